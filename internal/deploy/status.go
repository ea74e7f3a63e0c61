package deploy

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nixctl/nixctl/internal/execx"
	"github.com/nixctl/nixctl/internal/exitcode"
	"github.com/nixctl/nixctl/internal/inventory"
	"github.com/nixctl/nixctl/internal/nix"
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
	// Expected is the toplevel the flake builds now ("" with --no-eval or
	// when evaluation failed); Drift is "up to date", "behind" or "unknown".
	Expected string `json:"expectedSystem,omitempty"`
	Drift    string `json:"drift"`
}

// statusScript prints key=value lines; the root prefix is the test hook
// described in lock.go.
const statusScript = `r="$1"
cur="$r/run/current-system"; boot="$r/run/booted-system"
echo "version=$(cat "$cur/nixos-version" 2>/dev/null)"
echo "current=$(readlink "$cur" 2>/dev/null)"
echo "booted=$(readlink "$boot" 2>/dev/null)"
for f in kernel initrd kernel-modules; do
  echo "cur_$f=$(readlink "$cur/$f" 2>/dev/null)"
  echo "boot_$f=$(readlink "$boot/$f" 2>/dev/null)"
done
g=$(readlink "$r/nix/var/nix/profiles/system" 2>/dev/null)
echo "generation=$g"
[ -n "$g" ] && echo "generation_time=$(stat -c %Y "$r/nix/var/nix/profiles/$g" 2>/dev/null)"
echo "last=$(cat "$r/var/lib/nixctl/last-deploy.json" 2>/dev/null)"
echo "lock=$(cat "$r/var/lib/nixctl/deploy.lock/info" 2>/dev/null)"
exit 0`

// StatusOptions shape nixctl status.
type StatusOptions struct {
	Parallel int
	// NoEval skips evaluating what the flake would build (no drift).
	NoEval bool
	Home   string
}

// Status asks every host, in parallel, what it runs, and compares it with
// what the flake builds now.
func Status(ctx context.Context, r execx.Runner, d remote.Connector, fleet *inventory.Fleet, hosts []inventory.Host, o StatusOptions) []HostStatus {
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

func hostStatus(ctx context.Context, r execx.Runner, d remote.Connector, fleet *inventory.Fleet, h inventory.Host, o StatusOptions) HostStatus {
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
	s, err := d.Connect(ctx, TargetOf(fleet, h, o.Home))
	if err == nil {
		var res *remote.Result
		res, err = s.Run(ctx, elevated(false, statusScript), nil)
		_ = s.Close()
		if err == nil {
			st.Reachable = true
			parseStatus(&st, string(res.Stdout))
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

func parseStatus(st *HostStatus, out string) {
	kv := parseKeyValues(out)
	st.NixOSVersion = kv["version"]
	st.Current = kv["current"]
	st.Booted = kv["booted"]
	for _, f := range []string{"kernel", "initrd", "kernel-modules"} {
		if kv["boot_"+f] != "" && kv["cur_"+f] != kv["boot_"+f] {
			st.RebootNeeded = true
		}
	}
	st.Generation = parseGenerationLink(kv["generation"])
	if sec, err := strconv.ParseInt(kv["generation_time"], 10, 64); err == nil {
		st.GenerationDate = time.Unix(sec, 0).UTC()
	}
	if v := kv["last"]; v != "" {
		var li LockInfo
		if json.Unmarshal([]byte(v), &li) == nil {
			st.LastDeploy = &li
		}
	}
	if v := kv["lock"]; v != "" {
		var li LockInfo
		if json.Unmarshal([]byte(v), &li) == nil {
			st.Locked = &li
		}
	}
}
