// Package deploy deploys NixOS hosts through nixos-rebuild --target-host:
// a plan of typed steps per host (check, preflight, build, activate, health,
// rollback), an executor that runs it with bounded parallelism and per-host
// locks, and the status of deployed hosts. Local processes go through an
// execx.Runner, remote ones through a Dialer; nothing else runs anything.
package deploy

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/nixctl/nixctl/internal/execx"
	"github.com/nixctl/nixctl/internal/inventory"
	"github.com/nixctl/nixctl/internal/nix"
	"github.com/nixctl/nixctl/internal/remote"
)

// Stages, in order. A host's result names the stage it stopped in.
const (
	StageCheck     = "check"
	StagePreflight = "preflight"
	StageLock      = "lock"
	StageBuild     = "build"
	StageCache     = "cache"
	StageDiff      = "diff"
	StageActivate  = "activate"
	StageHealth    = "health"
	StageRollback  = "rollback"
	StageDone      = "done"
)

// Options are what the user asked for.
type Options struct {
	Action    string
	Parallel  int
	FailFast  bool
	NoCheck   bool
	BreakLock bool
	// BuildHost overrides every host's buildHost ("" keeps them).
	BuildHost string
	// Timeout bounds each host's preflight and, separately, its activation
	// with health checks (0 = no limit).
	Timeout time.Duration
	// Flavour is the installed nixos-rebuild's; a host's rebuild: bash|ng wins.
	Flavour nix.Flavour
	// KnownHosts is passed to the system ssh in NIX_SSHOPTS, so it checks
	// the same file nixctl does ("" = ssh's defaults).
	KnownHosts string
	// Home expands ~/ in identity files.
	Home string
	// HealthInterval is the pause between health check attempts (0 = 1s).
	HealthInterval time.Duration
	// RollbackTo, for nixctl rollback: the generation to go back to (0 =
	// the previous one). Set Rollback to plan a rollback instead of a deploy.
	Rollback   bool
	RollbackTo int
	// Diff compares each host's current system with the new one after the
	// build (closure, reboot, units) and hands the plan to Env.Approve;
	// an unchanged host is not activated unless Force. PlanOnly stops
	// there, without taking the hosts' locks (nixctl plan).
	Diff     bool
	PlanOnly bool
	Force    bool
	// Batch activates the hosts in successive batches (zero: all at once);
	// Canary names hosts activated first, alone, before any batch.
	Batch  inventory.Batch
	Canary []string
	// Cache is a store URL the built systems are pushed to once before
	// activation; the hosts then substitute from their caches ("" = none).
	Cache string
}

// HostPlan is everything the executor does for one host.
type HostPlan struct {
	Host   inventory.Host
	Target remote.Target
	// Elevate: remote state changes go through sudo -n (non-root users).
	Elevate bool
	// BuildHost is user@address when the host builds remotely.
	BuildHost string
	// Installable is the toplevel built locally ("" with a build host).
	Installable string
	Activate    execx.Cmd
	// RollbackCmd runs locally for switch (nixos-rebuild switch --rollback);
	// RollbackRemote is the remote command otherwise (test: re-activate the
	// system profile; rollback --to N: switch that generation).
	RollbackCmd    *execx.Cmd
	RollbackRemote string
	// DryActivate is nixos-rebuild dry-activate, run by the diff stage
	// (nil when the action does not activate now).
	DryActivate *execx.Cmd
	// SSHEnv is the NIX_SSHOPTS the system ssh needs to reach the host.
	SSHEnv []string
}

// Plan is a whole deploy.
type Plan struct {
	Options
	Flake string
	Hosts []HostPlan
	// Build is the one local nix build of every local toplevel (nil when
	// no host builds locally or nothing is activated).
	Build *execx.Cmd
}

// Activates reports whether the action changes the running system and so
// needs health checks and, on failure, a rollback.
func (p *Plan) Activates() bool {
	return p.Rollback || p.Action == "switch" || p.Action == "test"
}

// Remote reports whether the action touches the hosts at all.
func (p *Plan) Remote() bool { return p.Rollback || p.Action != "build" }

// NewPlan turns selected hosts into a plan. Inventory values are validated
// already; what cannot pass to ssh (a path with spaces) is an error here.
func NewPlan(fleet *inventory.Fleet, hosts []inventory.Host, o Options) (*Plan, error) {
	if o.Action == "" {
		o.Action = "switch"
	}
	if o.Rollback {
		o.Action = "switch"
	}
	if o.PlanOnly {
		o.Diff = true
	}
	if o.Parallel <= 0 {
		o.Parallel = max(fleet.Defaults.Parallel, 1)
	}
	p := &Plan{Options: o, Flake: fleet.Flake}
	var installables []string
	for _, h := range hosts {
		hp, err := planHost(fleet, h, o)
		if err != nil {
			return nil, err
		}
		if hp.Installable != "" {
			installables = append(installables, hp.Installable)
		}
		p.Hosts = append(p.Hosts, hp)
	}
	if len(installables) > 0 && !o.Rollback {
		c := execx.Cmd{Argv: nix.Build(installables), Dir: fleet.Dir}
		p.Build = &c
	}
	return p, nil
}

func planHost(fleet *inventory.Fleet, h inventory.Host, o Options) (HostPlan, error) {
	t := TargetOf(fleet, h, o.Home)
	hp := HostPlan{Host: h, Target: t, Elevate: h.User != "root"}
	bh := h.BuildHost
	if o.BuildHost != "" {
		bh = o.BuildHost
	}
	if bh != "" {
		if b, ok := fleet.Host(bh); ok {
			bh = b.Target()
		}
		hp.BuildHost = bh
	} else if !o.Rollback {
		hp.Installable = nix.Installable(fleet.Flake, nix.ToplevelAttr(h.Attr)...)
	}
	flavour := o.Flavour
	if h.Rebuild == "bash" || h.Rebuild == "ng" {
		flavour = nix.Flavour(h.Rebuild)
	}
	if flavour == "" {
		flavour = nix.FlavourBash
	}
	ro := nix.RebuildOptions{
		Action: o.Action, Flake: fleet.Flake, Attr: h.Attr, TargetHost: h.Target(), BuildHost: hp.BuildHost,
		Sudo: h.Sudo || hp.Elevate, Flavour: flavour, Substitutes: o.Cache != "",
	}
	if o.Action == "build" && !o.Rollback {
		ro.TargetHost = ""
	}
	var env []string
	if ro.TargetHost != "" || ro.BuildHost != "" {
		var kh []string
		if o.KnownHosts != "" {
			kh = []string{o.KnownHosts}
		}
		opts, err := nix.SSHOpts(remote.SSHArgs(t, h.SSHOptions, kh))
		if err != nil {
			return hp, &PlanError{Host: h.Name, Err: err}
		}
		env = []string{"NIX_SSHOPTS=" + opts}
		hp.SSHEnv = env
	}
	switch {
	case o.Rollback && o.RollbackTo > 0:
		hp.RollbackRemote = elevated(hp.Elevate, switchGenerationScript, fmt.Sprint(o.RollbackTo))
	case o.Rollback:
		// nixos-rebuild switch --rollback is the activation itself: when its
		// health fails, there is nothing further back to go to by itself.
		ro.Rollback = true
		hp.Activate = execx.Cmd{Argv: nix.Rebuild(ro), Env: env, Dir: fleet.Dir}
	default:
		hp.Activate = execx.Cmd{Argv: nix.Rebuild(ro), Env: env, Dir: fleet.Dir}
		switch o.Action {
		case "switch":
			rb := ro
			rb.Rollback, rb.BuildHost = true, ""
			hp.RollbackCmd = &execx.Cmd{Argv: nix.Rebuild(rb), Env: env, Dir: fleet.Dir}
		case "test":
			hp.RollbackRemote = elevated(hp.Elevate, reactivateProfileScript)
		}
		if o.Diff && (o.Action == "switch" || o.Action == "test") {
			da := ro
			da.Action = "dry-activate"
			hp.DryActivate = &execx.Cmd{Argv: nix.Rebuild(da), Env: env, Dir: fleet.Dir}
		}
	}
	return hp, nil
}

// TargetOf is where nixctl's own SSH connections reach h, home being the
// user's home directory (for ~/ in identity:).
func TargetOf(fleet *inventory.Fleet, h inventory.Host, home string) remote.Target {
	return remote.Target{User: h.User, Address: h.Address, Port: h.Port, Identity: identityPath(fleet, h.Identity, home)}
}

// identityPath resolves an identity file: ~/ from home, relative paths
// from the inventory's directory.
func identityPath(fleet *inventory.Fleet, p, home string) string {
	switch {
	case p == "":
		return ""
	case strings.HasPrefix(p, "~/"):
		return filepath.Join(home, p[2:])
	case filepath.IsAbs(p):
		return p
	}
	return filepath.Join(fleet.Dir, p)
}

// PlanError is a host the plan cannot be made for.
type PlanError struct {
	Host string
	Err  error
}

func (e *PlanError) Error() string { return fmt.Sprintf("host %s: %v", e.Host, e.Err) }
func (e *PlanError) Unwrap() error { return e.Err }

// Hint says what to change.
func (e *PlanError) Hint() string {
	return "nixos-rebuild passes ssh options through NIX_SSHOPTS, split on spaces: move the identity file or known_hosts to a path without spaces"
}

// Print writes the plan as a user would run it by hand: comments for what
// nixctl does itself over SSH, shell-quoted commands for the rest.
func (p *Plan) Print(w io.Writer) {
	what := "deploy (" + p.Action + ")"
	if p.Rollback {
		what = "rollback"
		if p.RollbackTo > 0 {
			what += fmt.Sprintf(" to generation %d", p.RollbackTo)
		}
	}
	fmt.Fprintf(w, "# nixctl %s of %d host(s), %d at a time\n", what, len(p.Hosts), p.Parallel)
	if !p.NoCheck && !p.Rollback {
		fmt.Fprintf(w, "# check: nix flake check --no-build, then evaluate %s\n", strings.Join(p.names(), ", "))
	}
	if p.Remote() {
		for _, h := range p.Hosts {
			fmt.Fprintf(w, "# %s: preflight over ssh %s (host key, nix%s), lock %s\n", h.Host.Name, h.Target, sudoNote(h), lockDir)
		}
	}
	if p.Build != nil {
		fmt.Fprintln(w, p.Build.String())
	}
	p.printRollout(w)
	if p.PlanOnly {
		return
	}
	for _, h := range p.Hosts {
		if len(h.Activate.Argv) > 0 {
			fmt.Fprintln(w, h.Activate.String())
		}
		if p.Rollback && h.RollbackRemote != "" {
			fmt.Fprintf(w, "ssh %s %s\n", execx.Quote(sshArgv(h)), execx.QuoteWord(h.RollbackRemote))
		}
		if p.Activates() && len(h.Host.Health) > 0 {
			var checks []string
			for _, c := range h.Host.Health {
				checks = append(checks, c.Kind()+" "+c.Target())
			}
			fmt.Fprintf(w, "# %s: health %s\n", h.Host.Name, strings.Join(checks, "; "))
		}
		if !p.Rollback && p.Activates() {
			if h.RollbackCmd != nil {
				fmt.Fprintf(w, "# %s: if health fails: %s\n", h.Host.Name, h.RollbackCmd.String())
			} else if h.RollbackRemote != "" {
				fmt.Fprintf(w, "# %s: if health fails: ssh %s %s\n", h.Host.Name, execx.Quote(sshArgv(h)), execx.QuoteWord(h.RollbackRemote))
			}
		}
	}
}

func sshArgv(h HostPlan) []string {
	return append(remote.SSHArgs(h.Target, h.Host.SSHOptions, nil), h.Host.SSHTarget())
}

func sudoNote(h HostPlan) string {
	if h.Host.Sudo || h.Elevate {
		return ", sudo -n"
	}
	return ""
}

func (p *Plan) names() []string {
	out := make([]string, len(p.Hosts))
	for i, h := range p.Hosts {
		out[i] = h.Host.Name
	}
	return out
}
