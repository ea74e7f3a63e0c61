// Package deploy deploys NixOS hosts through nixos-rebuild --target-host:
// a plan of typed steps per host (check, preflight, build, activate, health,
// rollback), an executor that runs it with bounded parallelism and per-host
// locks, and the status of deployed hosts. Local processes go through an
// execx.Runner, remote ones through a Dialer; nothing else runs anything.
package deploy

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/nixctl/nixctl/internal/execx"
	"github.com/nixctl/nixctl/internal/fault"
	"github.com/nixctl/nixctl/internal/hostops"
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
	StageConfirm   = "confirm"
	StageVerify    = "verify"
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
	// EvalJobs bounds the check stage's nix evaluations at once (0: from
	// the cores and the memory).
	EvalJobs int
	// Timeout bounds each host's preflight and, separately, its activation
	// with health checks (0 = no limit).
	Timeout time.Duration
	// Flavour is the installed nixos-rebuild's; a host's rebuild: bash|ng wins.
	Flavour nix.Flavour
	// StorePath: the installed nixos-rebuild (an ng) has --store-path, so
	// the ng hosts activate the system this run built instead of having
	// nixos-rebuild evaluate the flake again.
	StorePath bool
	// Substitute lets the target fetch what it can from its own binary
	// caches (nixos-rebuild --use-substitutes).
	Substitute bool
	// RebuildArgs are handed to every nixos-rebuild call as they are
	// (nixctl deploy SELECTOR -- ARGS).
	RebuildArgs []string
	// HealthInterval is the pause between health check attempts (0 = 1s).
	HealthInterval time.Duration
	// RollbackTo, for nixctl rollback: the generation to go back to (0 =
	// the previous one). Set Rollback to plan a rollback instead of a deploy.
	Rollback   bool
	RollbackTo int
	// NoMagicRollback turns magic rollback off for every host; otherwise a
	// switch or test arms it on every host whose inventory does not turn it
	// off. ConfirmTimeout overrides the inventory's confirmTimeout.
	NoMagicRollback bool
	ConfirmTimeout  time.Duration
	// ReturnWait bounds the wait for a host that missed its confirmation
	// to come back on its previous generation (0 = 2m).
	ReturnWait time.Duration
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
	Host inventory.Host
	// Route is how nixctl, ssh, nixos-rebuild and nix copy reach the host.
	Route remote.Route
	// Elevate: remote state changes go through sudo -n (non-root users).
	Elevate bool
	// BuildHost is the destination nixos-rebuild --build-host gets when the
	// host builds remotely; BuildRoute is its route when it is a host of the
	// inventory (preflighted like a target).
	BuildHost  string
	BuildRoute *remote.Route
	// Installable is the toplevel built locally ("" with a build host).
	Installable string
	// Activate is the nixos-rebuild call; with ByStorePath its --store-path
	// is BuiltPlaceholder until the build says which system it made.
	Activate execx.Cmd
	// ByStorePath: nixos-rebuild activates the built system itself
	// (--store-path). Verify: it evaluates the flake again (--flake), so
	// after the activation nixctl compares what the host runs (or boots,
	// after boot) with what it built, and rolls back when they differ.
	ByStorePath bool
	Verify      bool
	rebuild     nix.RebuildOptions
	// RollbackCmd runs locally for switch (nixos-rebuild switch --rollback);
	// RollbackRemote is the host operation otherwise (test: re-activate the
	// system profile; rollback --to N: switch that generation).
	RollbackCmd    *execx.Cmd
	RollbackRemote *RemoteRollback
	// MagicRollback: the host gets a watchdog that rolls it back unless
	// nixctl confirms within ConfirmTimeout after the activation.
	MagicRollback  bool
	ConfirmTimeout time.Duration
	// DryActivate is nixos-rebuild dry-activate, run by the diff stage
	// (nil when the action does not activate now).
	DryActivate *execx.Cmd
	// SSHEnv is the NIX_SSHOPTS the system ssh needs to reach the host.
	SSHEnv []string
}

// RemoteRollback is a rollback nixctl runs on the host itself.
type RemoteRollback struct {
	// Generation is the system generation to switch to; 0 activates the
	// system profile again (what undoes nixos-rebuild test).
	Generation int
}

// run runs the rollback on s.
func (r *RemoteRollback) run(ctx context.Context, s hostops.System) error {
	if r.Generation > 0 {
		return s.SwitchGeneration(ctx, r.Generation)
	}
	return s.Reactivate(ctx)
}

// command is the command line the host runs, for the printed plan.
func (r *RemoteRollback) command(sudo bool) string {
	if r.Generation > 0 {
		return hostops.SwitchGenerationCommand(sudo, r.Generation)
	}
	return hostops.ReactivateCommand(sudo)
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

// NewPlan turns selected hosts into a plan, each host's route resolved by
// routes. Inventory values are validated already; what cannot pass to ssh
// (a path with spaces) is an error here.
func NewPlan(fleet *inventory.Fleet, hosts []inventory.Host, o Options, routes remote.Router) (*Plan, error) {
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
		hp, err := planHost(fleet, h, o, routes)
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

func planHost(fleet *inventory.Fleet, h inventory.Host, o Options, routes remote.Router) (HostPlan, error) {
	r, err := routes.HostRoute(fleet.Dir, &h, "")
	if err != nil {
		return HostPlan{}, &PlanError{Host: h.Name, Err: err}
	}
	hp := HostPlan{Host: h, Route: r, Elevate: r.User != "root"}
	sshArgs := r.Args
	bh := h.BuildHost
	if o.BuildHost != "" {
		bh = o.BuildHost
	}
	if bh != "" {
		hp.BuildHost = bh
		if b, ok := fleet.Host(bh); ok {
			br, err := routes.HostRoute(fleet.Dir, b, "")
			if err != nil {
				return HostPlan{}, &PlanError{Host: h.Name, Err: fmt.Errorf("build host: %w", err)}
			}
			hp.BuildRoute, hp.BuildHost = &br, br.Dest
			if o.Action == "build" && !o.Rollback {
				// nixos-rebuild build reaches the build host only.
				sshArgs = br.Args
			} else if sshArgs, err = sharedArgs(routes, r, br); err != nil {
				return HostPlan{}, &BuildHostError{Host: h.Name, BuildHost: b.Name, Err: err}
			}
		}
	} else if !o.Rollback {
		hp.Installable = nix.Installable(fleet.Flake, nix.ToplevelAttr(h.Attr)...)
	}
	if (o.Action == "switch" || o.Action == "test") && !o.Rollback && !o.NoMagicRollback && h.MagicRollbackOn() {
		hp.MagicRollback = true
		hp.ConfirmTimeout = cmp.Or(o.ConfirmTimeout, h.ConfirmTimeout, DefaultConfirmTimeout)
	}
	flavour := o.Flavour
	if h.Rebuild == "bash" || h.Rebuild == "ng" {
		flavour = nix.Flavour(h.Rebuild)
	}
	if flavour == "" {
		flavour = nix.FlavourBash
	}
	ro := nix.RebuildOptions{
		Action: o.Action, Flake: fleet.Flake, Attr: h.Attr, TargetHost: r.Dest, BuildHost: hp.BuildHost,
		Sudo: h.Sudo || hp.Elevate, Flavour: flavour, Substitutes: o.Substitute || o.Cache != "", Extra: o.RebuildArgs,
	}
	if o.Action == "build" && !o.Rollback {
		ro.TargetHost = ""
	}
	activates := o.Action == "switch" || o.Action == "boot" || o.Action == "test" || o.Action == "dry-activate"
	if activates && !o.Rollback && hp.Installable != "" {
		// rebuild: bash|ng keeps its meaning (which flags to pass): a host
		// said to run the bash script is never given --store-path.
		hp.ByStorePath = o.StorePath && flavour == nix.FlavourNG
		hp.Verify = !hp.ByStorePath && o.Action != "dry-activate"
		if hp.ByStorePath {
			ro.StorePath = BuiltPlaceholder(h.Name)
		}
	}
	var env []string
	if ro.TargetHost != "" || ro.BuildHost != "" {
		sr := r
		sr.Args = sshArgs
		opts, err := sr.NixSSHOpts()
		if err != nil {
			return hp, &PlanError{Host: h.Name, Err: err}
		}
		// Set even when empty: it is the whole of what the tools get.
		env = []string{"NIX_SSHOPTS=" + opts}
		hp.SSHEnv = env
	}
	switch {
	case o.Rollback && o.RollbackTo > 0:
		hp.RollbackRemote = &RemoteRollback{Generation: o.RollbackTo}
	case o.Rollback:
		// nixos-rebuild switch --rollback is the activation itself: when its
		// health fails, there is nothing further back to go to by itself.
		ro.Rollback = true
		hp.Activate = execx.Cmd{Argv: nix.Rebuild(ro), Env: env, Dir: fleet.Dir}
	default:
		hp.rebuild = ro
		hp.Activate = execx.Cmd{Argv: nix.Rebuild(ro), Env: env, Dir: fleet.Dir}
		switch {
		case o.Action == "switch" || o.Action == "boot" && hp.Verify:
			// After boot, only a system nixctl did not build is undone: the
			// profile's previous generation is made the boot default again.
			rb := ro
			rb.Rollback, rb.BuildHost, rb.StorePath = true, "", ""
			hp.RollbackCmd = &execx.Cmd{Argv: nix.Rebuild(rb), Env: env, Dir: fleet.Dir}
		case o.Action == "test":
			hp.RollbackRemote = &RemoteRollback{}
		}
		if o.Diff && (o.Action == "switch" || o.Action == "test") {
			da := ro
			da.Action = "dry-activate"
			hp.DryActivate = &execx.Cmd{Argv: nix.Rebuild(da), Env: env, Dir: fleet.Dir}
		}
	}
	return hp, nil
}

// BuiltPlaceholder stands for a host's built system in a printed plan,
// where nothing is built yet.
func BuiltPlaceholder(host string) string { return "<built toplevel of " + host + ">" }

// withStorePath is c with the placeholder replaced by the built system.
func (hp *HostPlan) withStorePath(c execx.Cmd, built string) execx.Cmd {
	if !hp.ByStorePath {
		return c
	}
	ro := hp.rebuild
	ro.Action, ro.StorePath = c.Argv[1], built
	c.Argv = nix.Rebuild(ro)
	return c
}

// sharedArgs are the ssh options for both the target and its build host:
// nixos-rebuild hands both the same NIX_SSHOPTS, so they must reach each of
// them by its own route.
func sharedArgs(routes remote.Router, target, build remote.Route) ([]string, error) {
	args := append([]string(nil), target.Args...)
	has := func(flag, val string) bool {
		for i := 0; i+1 < len(args); i++ {
			if args[i] == flag && args[i+1] == val {
				return true
			}
		}
		return false
	}
	for i := 0; i < len(build.Args); i++ {
		a := build.Args[i]
		// Both routes come from one configuration: -F and the files taken
		// from $HOME are the same for both, and said once.
		if len(a) == 2 && a[0] == '-' && strings.ContainsRune(sshFlagsWithValue, rune(a[1])) && i+1 < len(build.Args) {
			if a == "-F" || has(a, build.Args[i+1]) {
				i++
				continue
			}
			args = append(args, a, build.Args[i+1])
			i++
			continue
		}
		args = append(args, a)
	}
	if ag, ok := routes.(interface {
		Agrees(remote.Route, []string) error
	}); ok {
		for _, r := range []remote.Route{target, build} {
			if err := ag.Agrees(r, args); err != nil {
				return nil, err
			}
		}
	}
	return args, nil
}

// sshFlagsWithValue are ssh's flags that take the next argument.
const sshFlagsWithValue = "BbcDEeFIiJLlmOoPpQRSWw"

// BuildHostError is a build host that nixos-rebuild could not reach with
// the target's ssh options.
type BuildHostError struct {
	Host, BuildHost string
	Err             error
}

func (e *BuildHostError) Error() string {
	return fmt.Sprintf("host %s: build host %s: %v", e.Host, e.BuildHost, e.Err)
}

func (e *BuildHostError) Unwrap() error { return e.Err }

// Hint says how to give each host its own settings.
func (e *BuildHostError) Hint() string {
	return fmt.Sprintf("nixos-rebuild gives %s and %s the same NIX_SSHOPTS: set the port, user or jump of one of them in ~/.ssh/config (a Host section) instead of in nixctl.yaml", e.Host, e.BuildHost)
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
	if h := fault.HintOf(e.Err); h != "" {
		return h
	}
	return "nixos-rebuild passes ssh options through NIX_SSHOPTS, split on spaces: move the identity file or known_hosts to a path without spaces"
}

// Print writes the plan as a user would run it by hand: comments for what
// nixctl does itself over SSH, shell-quoted commands for the rest.
func (p *Plan) Print(w io.Writer) {
	what := "deploy (" + p.Action + ")"
	if p.PlanOnly {
		what = "plan (" + p.Action + ")"
	}
	if p.Rollback {
		what = "rollback"
		if p.RollbackTo > 0 {
			what += fmt.Sprintf(" to generation %d", p.RollbackTo)
		}
	}
	fmt.Fprintf(w, "# nixctl %s of %d host(s), %d at a time\n", what, len(p.Hosts), p.Parallel)
	if !p.NoCheck && !p.Rollback {
		fmt.Fprintf(w, "# check: evaluate %s in one nix process; the build then builds the derivations it found\n", strings.Join(p.names(), ", "))
	}
	if p.Remote() {
		for _, h := range p.Hosts {
			fmt.Fprintf(w, "# %s: preflight over ssh %s (host key, nix%s), lock %s\n", h.Host.Name, h.Route, sudoNote(h), hostops.DeployLockPath)
			if h.BuildRoute != nil {
				fmt.Fprintf(w, "# %s: preflight of the build host over ssh %s (host key, nix)\n", h.Host.Name, *h.BuildRoute)
			}
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
		if p.Rollback && h.RollbackRemote != nil {
			fmt.Fprintln(w, execx.Quote(h.Route.Command(h.RollbackRemote.command(h.Elevate))))
		}
		if h.MagicRollback {
			fmt.Fprintf(w, "# %s: magic rollback: before activating, arm a watchdog on the host (unit %sRUNID, or a detached process) that switches back to the running generation unless nixctl confirms over a new ssh connection within %s\n",
				h.Host.Name, hostops.WatchdogUnitPrefix, h.ConfirmTimeout)
		}
		if h.Verify {
			what := "/run/current-system"
			if p.Action == "boot" {
				what = "the system profile's target"
			}
			fmt.Fprintf(w, "# %s: nixos-rebuild evaluates the flake again: then compare %s (over ssh) with %s; if they differ: %s\n",
				h.Host.Name, what, BuiltPlaceholder(h.Host.Name), h.rollbackText())
		}
		if p.Activates() && len(h.Host.Health) > 0 {
			var checks []string
			for _, c := range h.Host.Health {
				checks = append(checks, c.Kind()+" "+c.Target())
			}
			fmt.Fprintf(w, "# %s: health %s\n", h.Host.Name, strings.Join(checks, "; "))
		}
		if rb := h.rollbackText(); !p.Rollback && p.Activates() && rb != "" {
			fmt.Fprintf(w, "# %s: if health fails: %s\n", h.Host.Name, rb)
		}
	}
}

// rollbackText is the host's rollback as the plan prints it ("" if none).
func (h HostPlan) rollbackText() string {
	switch {
	case h.RollbackCmd != nil:
		return h.RollbackCmd.String()
	case h.RollbackRemote != nil:
		return execx.Quote(h.Route.Command(h.RollbackRemote.command(h.Elevate)))
	}
	return ""
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
