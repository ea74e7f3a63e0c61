package deploy

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/nixctl/nixctl/internal/execx"
	"github.com/nixctl/nixctl/internal/exitcode"
	"github.com/nixctl/nixctl/internal/hostops"
	"github.com/nixctl/nixctl/internal/inventory"
	"github.com/nixctl/nixctl/internal/nix"
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
	Home   string
}

// Status asks every host, in parallel, what it runs, and compares it with
// what the flake builds now.
func Status(ctx context.Context, r execx.Runner, d hostops.Connector, fleet *inventory.Fleet, hosts []inventory.Host, o StatusOptions) []HostStatus {
	out := make([]HostStatus, len(hosts))
	sem := make(chan struct{}, max(o.Parallel, 1))
	var wg sync.WaitGroup
	for i, h := range hosts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			out[i] = hostStatus(ctx, r, d, fleet, h, o)
		}()
	}
	wg.Wait()
	return out
}

func hostStatus(ctx context.Context, r execx.Runner, d hostops.Connector, fleet *inventory.Fleet, h inventory.Host, o StatusOptions) HostStatus {
	st := HostStatus{Host: h.Name, Drift: "unknown"}
	var expected string
	var evalErr error
	var wg sync.WaitGroup
	if !o.NoEval {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := execx.Cmd{Argv: nix.EvalOutPath(fleet.Flake, nix.ToplevelAttr(h.Attr)), Dir: fleet.Dir, ReadOnly: true}
			res, err := r.Run(ctx, c)
			if err == nil {
				expected = strings.TrimSpace(string(res.Stdout))
			}
			evalErr = err
		}()
	}
	s, err := d.Connect(ctx, TargetOf(fleet, h, o.Home), false)
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
	wg.Wait()
	if err != nil {
		st.Error, st.Hint = err.Error(), exitcode.HintOf(err)
	}
	st.Expected = expected
	switch {
	case o.NoEval:
		st.Drift = "not evaluated"
	case evalErr != nil:
		st.Drift = "unknown"
		if st.Error == "" {
			st.Error = "evaluating the flake: " + evalErr.Error()
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
