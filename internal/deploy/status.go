package deploy

import (
	"context"
	"time"

	"github.com/nixctl/nixctl/internal/eval"
	"github.com/nixctl/nixctl/internal/execx"
	"github.com/nixctl/nixctl/internal/fault"
	"github.com/nixctl/nixctl/internal/hostops"
	"github.com/nixctl/nixctl/internal/inventory"
	"github.com/nixctl/nixctl/internal/nix"
	"github.com/nixctl/nixctl/internal/parallel"
	"github.com/nixctl/nixctl/internal/remote"
)

// HostStatus is what nixctl status knows about one host.
type HostStatus struct {
	Host         string `json:"host"`
	Reachable    bool   `json:"reachable"`
	Error        string `json:"error,omitempty"`
	Hint         string `json:"hint,omitempty"`
	NixOSVersion string `json:"nixosVersion,omitempty"`
	Current      string `json:"currentSystem,omitempty"`
	Booted       string `json:"bootedSystem,omitempty"`
	// RebootNeeded: the booted kernel, initrd or modules differ from the
	// current system's.
	RebootNeeded   bool      `json:"rebootNeeded"`
	Generation     int       `json:"generation,omitempty"`
	GenerationDate time.Time `json:"generationDate,omitzero"`
	LastDeploy     *LockInfo `json:"lastDeploy,omitempty"`
	Locked         *LockInfo `json:"locked,omitempty"`
	// PendingRollback is a magic-rollback watchdog still armed on the host.
	PendingRollback *hostops.PendingWatchdog `json:"pendingRollback,omitempty"`
	// Expected is the toplevel the flake builds now ("" with --no-eval or
	// when evaluation failed); Drift is "up to date", "behind" or "unknown".
	Expected string `json:"expectedSystem,omitempty"`
	Drift    string `json:"drift"`
}

// StatusOptions shape nixctl status.
type StatusOptions struct {
	Parallel int
	// NoEval skips evaluating what the flake would build (no drift).
	NoEval bool
	// EvalJobs bounds the nix evaluations at once (0: from cores and memory).
	EvalJobs int
}

// Status asks every host, in parallel, what it runs, and compares it with
// what the flake builds now: one evaluation of every host's toplevel, run
// beside the questions.
func Status(ctx context.Context, r execx.Runner, d hostops.Connector, routes remote.Router, fleet *inventory.Fleet, hosts []inventory.Host, o StatusOptions) []HostStatus {
	var expected []eval.Result
	evaluated := make(chan struct{})
	if o.NoEval {
		close(evaluated)
	} else {
		go func() {
			defer close(evaluated)
			items := make([]eval.Item, len(hosts))
			for i, h := range hosts {
				items[i] = eval.Host(h.Attr)
			}
			expected, _ = eval.Run(ctx, r, items, eval.Options{Flake: fleet.Flake, Dir: fleet.Dir, Jobs: o.EvalJobs})
		}()
	}
	out := make([]HostStatus, len(hosts))
	parallel.Each(len(hosts), o.Parallel, func(i int) {
		out[i] = hostStatus(ctx, d, routes, fleet, hosts[i], o, func() eval.Result {
			<-evaluated
			if i < len(expected) {
				return expected[i]
			}
			return eval.Result{Errors: []nix.Error{{Message: "interrupted"}}}
		})
	})
	return out
}

func hostStatus(ctx context.Context, d hostops.Connector, routes remote.Router, fleet *inventory.Fleet, h inventory.Host, o StatusOptions, evaluated func() eval.Result) HostStatus {
	st := HostStatus{Host: h.Name, Drift: "unknown"}
	var s hostops.System
	t, err := routes.HostRoute(fleet.Dir, &h, "")
	if err == nil {
		s, err = d.Connect(ctx, t, false)
	}
	if err == nil {
		var hs hostops.Status
		hs, err = s.Status(ctx)
		_ = s.Close()
		if err == nil {
			st.Reachable = true
			st.NixOSVersion, st.Current, st.Booted, st.RebootNeeded = hs.NixOSVersion, hs.Current, hs.Booted, hs.RebootNeeded
			st.Generation, st.GenerationDate, st.LastDeploy, st.Locked = hs.Generation, hs.GenerationDate, hs.LastDeploy, hs.Locked
			st.PendingRollback = hs.Watchdog
		}
	}
	if err != nil {
		st.Error, st.Hint = err.Error(), fault.HintOf(err)
	}
	var expected string
	var res eval.Result
	if !o.NoEval {
		res = evaluated()
		expected = res.OutPath
	}
	st.Expected = expected
	switch {
	case o.NoEval:
		st.Drift = "not evaluated"
	case !res.OK() || expected == "":
		st.Drift = "unknown"
		if st.Error == "" {
			st.Error = "evaluating the flake: " + evalFailure(res)
		}
	case st.Current == "":
		st.Drift = "unknown"
	case st.Current == expected:
		st.Drift = "up to date"
	default:
		st.Drift = "behind"
	}
	return st
}

func evalFailure(r eval.Result) string {
	switch {
	case r.Missing:
		return "the flake has no such nixosConfigurations output"
	case len(r.Errors) > 0:
		return r.Errors[0].String()
	}
	return "no store path"
}
