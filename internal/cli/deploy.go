package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/nixctl/nixctl/internal/app"
	"github.com/nixctl/nixctl/internal/deploy"
	"github.com/nixctl/nixctl/internal/execx"
	"github.com/nixctl/nixctl/internal/fault"
	"github.com/nixctl/nixctl/internal/hostops"
	"github.com/nixctl/nixctl/internal/inventory"
	"github.com/nixctl/nixctl/internal/nix"
	"github.com/nixctl/nixctl/internal/remote"
	"github.com/nixctl/nixctl/internal/ui"
)

type deployOptions struct {
	deps      *app.Deps
	selectors []string
	all       bool
	action    string
	parallel  int
	keepGoing bool
	failFast  bool
	noCheck   bool
	buildHost string
	timeout   time.Duration
	breakLock bool
	evalJobs  int
	// noMagicRollback and confirmTimeout shape magic rollback.
	noMagicRollback bool
	confirmTimeout  time.Duration
	// substitute: hosts fetch from their binary caches (--use-substitutes).
	substitute bool
	// rebuildArgs come after "--", for every nixos-rebuild call.
	rebuildArgs []string
	// rollback and to are set by nixctl rollback.
	rollback bool
	to       int
	// diff shows the plan and asks once before activating; planOnly
	// (nixctl plan) stops after showing it.
	diff     bool
	planOnly bool
	force    bool
	batch    string
	canary   []string
	cache    string
	// confirmed: the caller has the user's consent already (ci --deploy).
	confirmed bool
	// report, when set, receives the run's report instead of it being
	// printed (ci --deploy makes it cases of its own report).
	report func(*deploy.Report) error
}

func newDeployCmd(deps *app.Deps) *cobra.Command {
	opts := &deployOptions{deps: deps}
	cmd := &cobra.Command{
		Use:   "deploy [SELECTOR...] [--all] [-- NIXOS-REBUILD-ARGS...]",
		Short: "Deploy NixOS hosts with nixos-rebuild, with preflight, health checks and rollback",
		Long: `Deploy the selected hosts through nixos-rebuild --target-host. For each host,
in order: check (nix flake check --no-build and evaluation, once for the run),
preflight over SSH (the host key must match known_hosts; nix must exist; with
sudo, sudo -n true must work), a lock on the host, one local nix build of every
host's system, activation with nixos-rebuild <action>, health checks (the
host's tcp, http and command checks, retried until their timeout), and, when
they fail after switch or test, a rollback followed by the checks again.

Magic rollback (switch and test): before activating, nixctl arms a watchdog
on the host that switches it back to the generation it ran unless nixctl
confirms over a new SSH connection within --confirm-timeout (default 30s,
or confirmTimeout in the inventory) after the activation. A host that locks
nixctl out rolls itself back ("rolled back by host", exit 6).
--no-magic-rollback, or magicRollback: false in the inventory, turns it off.

Hosts run in parallel (--parallel, default from the inventory); a failing host
does not stop the others unless --fail-fast. switch and boot ask for
confirmation unless --yes. Each host's full output is in
$XDG_STATE_HOME/nixctl/logs/<run-id>/<host>.log.

--diff shows, after the build, what changes on each host (packages, closure
size, reboot, units dry-activate would restart) and asks once; hosts already
running the new system are skipped unless --force (nixctl plan stops there).
--batch N or N% activates the hosts in batches and stops at the first batch
with a failed or rolled back host; --canary SELECTOR activates those hosts
first, and the others only if every canary is healthy. --cache URL pushes the
built systems once (nix copy --to URL) and the hosts substitute from it.

Exit codes: 0 all ok, 5 some hosts failed, 6 some rolled back (none failed),
10 all failed, 4 the check failed, 9 the build failed, 130 interrupted. Hosts
a batch or canary held back ("not started") count as failed.

Arguments after -- go to every nixos-rebuild call as they are, e.g.
nixctl deploy web -- --show-trace --option cores 4.

Hosts are reached by the route ssh itself would take: ~/.ssh/config
(HostName, Port, User, IdentityFile, ProxyJump…) with the inventory's
user, port, identity and sshOptions as command-line options; nixos-rebuild
and nix copy get the same options in NIX_SSHOPTS, after an exported one.

Selectors: a name, a glob such as 'nixos-*', or @tag.`,
		ValidArgsFunction: completeNames(deps, completeHosts),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.selectors, opts.rebuildArgs = splitDash(cmd, args)
			if err := checkRebuildArgs(cmd, opts.rebuildArgs); err != nil {
				return err
			}
			if cmd.Flags().Changed("keep-going") {
				if opts.keepGoing && opts.failFast {
					return fault.Usagef("pick one of them", "--keep-going and --fail-fast contradict each other")
				}
				opts.failFast = opts.failFast || !opts.keepGoing
			}
			return runDeploy(cmd.Context(), opts)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&opts.all, "all", false, "deploy every host of the inventory")
	f.StringVar(&opts.action, "action", "switch", "nixos-rebuild action: switch, boot, test, dry-activate or build")
	f.IntVar(&opts.parallel, "parallel", 0, "hosts deployed at once (default: defaults.parallel of the inventory)")
	f.BoolVar(&opts.keepGoing, "keep-going", true, "go on with the other hosts when one fails")
	f.BoolVar(&opts.failFast, "fail-fast", false, "stop every host at the first failure")
	f.BoolVar(&opts.noCheck, "no-check", false, "skip the check stage")
	addEvalJobsFlag(f, &opts.evalJobs)
	f.StringVar(&opts.buildHost, "build-host", "", "build on this host (inventory name or user@address) instead of here")
	f.DurationVar(&opts.timeout, "timeout", 0, "limit for each host's preflight and for its activation with health checks, e.g. 10m (0: none)")
	f.BoolVar(&opts.breakLock, "break-lock", false, "remove a lock left by another deploy before taking it")
	f.BoolVar(&opts.noMagicRollback, "no-magic-rollback", false, "arm no watchdog: a host that nixctl cannot reach after switch or test stays as it is")
	f.DurationVar(&opts.confirmTimeout, "confirm-timeout", 0, "how long a host waits after its activation for nixctl to confirm it, e.g. 30s (default: confirmTimeout of the inventory, else 30s)")
	f.BoolVar(&opts.substitute, "substitute-on-target", false, "let hosts fetch from their own binary caches (nixos-rebuild --use-substitutes; default: defaults.substituteOnTarget)")
	f.BoolVar(&opts.diff, "diff", false, "after the build, show what changes on each host (packages, reboot, units) and ask once")
	f.BoolVar(&opts.force, "force", false, "with --diff: activate the hosts that already run the new system too")
	addRolloutFlags(cmd, opts)
	return cmd
}

func runDeploy(ctx context.Context, opts *deployOptions) error {
	deps := opts.deps
	if !nix.IsAction(opts.action) {
		return fault.Usagef("use one of: "+strings.Join(nix.Actions, ", "), "unknown action %q", opts.action)
	}
	if len(opts.selectors) == 0 && !opts.all {
		return fault.Usagef("name hosts (a name, a glob such as 'nixos-*', or @tag), or pass --all", "deploy needs a selector or --all")
	}
	if opts.parallel < 0 {
		return fault.Usagef("pass a number of hosts, 1 or more", "--parallel %d is not a number of hosts", opts.parallel)
	}
	if err := checkEvalJobs(opts.evalJobs); err != nil {
		return err
	}
	if opts.timeout < 0 {
		return fault.Usagef("pass a duration such as 10m", "--timeout %s is negative", opts.timeout)
	}
	if opts.confirmTimeout < 0 {
		return fault.Usagef("pass a duration such as 30s", "--confirm-timeout %s is negative", opts.confirmTimeout)
	}
	if (opts.diff || opts.force) && !opts.planOnly && opts.action != "switch" && opts.action != "boot" && opts.action != "test" {
		return fault.Usagef("--diff shows what switch, boot or test would change; drop it or pick one of those", "--diff with --action %s", opts.action)
	}
	fleet, err := deps.Fleet()
	if err != nil {
		return err
	}
	hosts, err := fleet.SelectHosts(opts.selectors, opts.all)
	if err != nil {
		return err
	}
	if opts.buildHost != "" {
		if err := checkBuildHost(fleet, opts.buildHost); err != nil {
			return err
		}
	}
	ssh, err := deps.SSH()
	if err != nil {
		return err
	}
	o := deploy.Options{
		Action: opts.action, Parallel: opts.parallel, FailFast: opts.failFast, NoCheck: opts.noCheck || opts.rollback,
		BreakLock: opts.breakLock, BuildHost: opts.buildHost, Timeout: opts.timeout,
		Substitute: opts.substitute || fleet.Defaults.SubstituteOnTarget, RebuildArgs: opts.rebuildArgs,
		Rollback: opts.rollback, RollbackTo: opts.to, EvalJobs: opts.evalJobs,
		NoMagicRollback: opts.noMagicRollback, ConfirmTimeout: opts.confirmTimeout,
		Diff: opts.diff, PlanOnly: opts.planOnly, Force: opts.force,
	}
	if !opts.rollback {
		if err := rolloutOptions(opts, fleet, hosts, &o); err != nil {
			return err
		}
	}
	o.Flavour, o.StorePath, err = rebuildFlavour(ctx, deps, fleet, hosts, o, ssh)
	if err != nil {
		return err
	}
	plan, err := deploy.NewPlan(fleet, hosts, o, ssh)
	if err != nil {
		return fault.New(fault.Usage, err, fault.HintOf(err))
	}
	if deps.Config.DryRun {
		// The steps are printed by the run itself (Deps.Runner, Hosts,
		// Writer and the health probe print instead of acting); the header
		// says what they do not.
		plan.PrintHeader(deps.IO.Out)
	}
	// With --diff the question comes after the plan (Env.Approve).
	if !opts.confirmed && !opts.diff && !opts.planOnly && (plan.Action == "switch" || plan.Action == "boot" || plan.Rollback) {
		verb := plan.Action
		if plan.Rollback {
			verb = "roll back"
		}
		if err := deps.RequireYes(fmt.Sprintf("%s %s?", verb, hostNames(hosts))); err != nil {
			return err
		}
	}
	return executeDeploy(ctx, opts, fleet, plan, ssh)
}

func executeDeploy(ctx context.Context, opts *deployOptions, fleet *inventory.Fleet, plan *deploy.Plan, dialer hostops.Dialer) error {
	deps := opts.deps
	runID := newRunID(deps.Now())
	logDir := filepath.Join(deps.StateDir(), "logs", runID)
	if err := deps.Writer().MkdirAll(logDir, 0o755); err != nil {
		deps.IO.Warnf("no log files: %v", err)
		logDir = ""
	} else if _, err := os.Stat(logDir); err != nil {
		logDir = "" // --dry-run: the folder is only printed
	}
	names := make([]string, len(plan.Hosts))
	for i, h := range plan.Hosts {
		names[i] = h.Host.Name
	}
	progress := ui.NewProgress(deps.IO, names)
	env := deploy.Env{
		Runner: deps.Runner(), Hosts: deps.Hosts(dialer), Probe: healthProbe(deps), Events: progress, Fleet: fleet, LogDir: logDir,
		RunID: runID, Who: whoAmI(deps), GitRev: gitRev(ctx, deps, fleet), Now: deps.Now,
		SecretsAccess: deploySecretsAccess(deps, fleet),
	}
	if plan.Diff {
		env.Approve = approvePlan(deps, progress, plan.Action)
	}
	rep := deploy.Run(ctx, env, plan)
	progress.Close()
	if opts.report != nil {
		return opts.report(rep)
	}
	if plan.PlanOnly {
		return reportPlan(deps, rep)
	}
	if rep.Declined != nil {
		return rep.Declined
	}
	return reportDeploy(deps, rep)
}

// healthProbe runs the tcp and http health checks: over the network, or
// with --dry-run as lines of the printed plan.
func healthProbe(deps *app.Deps) deploy.Probe {
	if deps.Config.DryRun {
		return deploy.PrintProbe{Out: deps.PlanPrinter()}
	}
	return deploy.NetProbe()
}

func reportDeploy(deps *app.Deps, rep *deploy.Report) error {
	io := deps.IO
	var err error
	if deps.Config.DryRun {
		// The printed steps are the result: a table (or --json) would say
		// "ok" of hosts nothing was done to. Why a host's dry run stopped
		// (a failed evaluation) is still said below, with the exit code.
		err = deployResult{rep}.verdict()
	} else if err = render(deps, deployResult{rep}); err != nil && !errors.Is(err, errSilent) {
		return err
	}
	notStarted := map[string][]string{}
	var reasons, hints []string
	for _, h := range rep.Hosts {
		if h.OK() || h.Error == "" {
			continue
		}
		if h.Result == deploy.ResultNotStarted {
			// One line for every host a batch or a canary held back.
			if notStarted[h.Error] == nil {
				reasons, hints = append(reasons, h.Error), append(hints, h.Hint)
			}
			notStarted[h.Error] = append(notStarted[h.Error], h.Host)
			continue
		}
		label := "nixctl: error:"
		if h.Result == deploy.ResultRolledBack || h.Result == deploy.ResultRolledBackByHost {
			label = "nixctl: rolled back:"
		}
		if h.Result == deploy.ResultRollbackFailed {
			label = "nixctl: ROLLBACK FAILED:"
		}
		printFailure(io, label, h.Host+": "+h.Error, h.Hint)
	}
	for i, reason := range reasons {
		printFailure(io, "nixctl: error:", joinNames(notStarted[reason])+": "+reason, hints[i])
	}
	if rep.Interrupted {
		var where []string
		for _, h := range rep.Hosts {
			if h.Result == deploy.ResultInterrupted {
				where = append(where, h.Host+" at "+h.Stage)
			}
		}
		if len(where) > 0 {
			fmt.Fprintf(io.Err, "nixctl: interrupted: stopped %s; locks released\n", strings.Join(where, ", "))
		} else {
			fmt.Fprintln(io.Err, "nixctl: interrupted")
		}
	}
	if rep.LogDir != "" && rep.Kind() != fault.OK && !io.Quiet {
		fmt.Fprintf(io.Err, "nixctl: logs: %s\n", rep.LogDir)
	}
	return err
}

// deployResult is a row per host: the action, its result, how long it took
// and the generation it left. Each host that failed says why on stderr,
// --json or not.
type deployResult struct{ *deploy.Report }

func (r deployResult) json() any { return r.Report }

func (r deployResult) verdict() error {
	if kind := r.Kind(); kind != fault.OK {
		return Silent(kind)
	}
	return nil
}

func (r deployResult) text(io *ui.IO) {
	rows := make([][]string, len(r.Hosts))
	for i, h := range r.Hosts {
		gen := "-"
		if h.Generation > 0 {
			gen = fmt.Sprint(h.Generation)
		}
		result := h.Result
		if !h.OK() && h.Stage != deploy.StageDone {
			result += " at " + h.Stage
		}
		rows[i] = []string{io.Mark(h.OK()), h.Host, h.Action, result, h.Duration.Round(100 * time.Millisecond).String(), gen}
	}
	io.Table([]string{"", "host", "action", "result", "time", "generation"}, rows)
}

// rebuildFlavour finds which nixos-rebuild is installed, and whether it
// has --store-path, when some host needs to know: one that needs the
// elevation flag and does not force rebuild: bash|ng, or one that
// activates a system built here and is not forced to bash. One probe
// answers both.
func rebuildFlavour(ctx context.Context, deps *app.Deps, fleet *inventory.Fleet, hosts []inventory.Host, o deploy.Options, routes remote.Router) (f nix.Flavour, storePath bool, err error) {
	needed, used := false, o.Action != "build" || o.BuildHost != ""
	activates := !o.Rollback && o.Action != "build"
	for _, h := range hosts {
		user := remote.DefaultUser
		if r, err := routes.HostRoute(fleet.Dir, &h, ""); err == nil {
			user = r.User
		}
		needed = needed || (h.Sudo || user != "root") && h.Rebuild != "bash" && h.Rebuild != "ng"
		needed = needed || activates && o.BuildHost == "" && h.BuildHost == "" && h.Rebuild != "bash"
		used = used || h.BuildHost != ""
	}
	if o.RollbackTo > 0 || !used {
		return nix.FlavourBash, false, nil
	}
	r := deps.Runner()
	if _, err := r.LookPath("nixos-rebuild"); err != nil {
		if deps.Config.DryRun {
			deps.IO.Warnf("nixos-rebuild is not on PATH; the plan assumes the bash nixos-rebuild")
			return nix.FlavourBash, false, nil
		}
		return "", false, fault.Newf(fault.Failure, "install it (nix profile install nixpkgs#nixos-rebuild), or run nixctl on a NixOS machine",
			"nixos-rebuild is not installed or not on PATH")
	}
	if !needed {
		return nix.FlavourBash, false, nil
	}
	res, _ := r.Run(ctx, execx.Cmd{Argv: nix.RebuildProbe(), ReadOnly: true})
	if res == nil {
		return nix.FlavourBash, false, nil
	}
	f, ok := nix.ParseProbe(res.ExitCode, string(res.Stderr))
	if !ok {
		deps.IO.Warnf("could not tell which nixos-rebuild is installed (exit %d); assuming the bash one: set rebuild: bash|ng in nixctl.yaml to choose", res.ExitCode)
	}
	storePath = nix.ProbeHasStorePath(res.ExitCode, string(res.Stderr))
	deps.IO.Debugf("nixos-rebuild flavour: %s, --store-path: %v", f, storePath)
	return f, storePath, nil
}

func validUserAtAddress(s string) bool {
	user, addr, ok := strings.Cut(s, "@")
	return ok && user != "" && addr != "" && !strings.HasPrefix(s, "-") && !strings.ContainsAny(s, " \t\n'\"\\;$`")
}

func hostNames(hosts []inventory.Host) string {
	names := make([]string, len(hosts))
	for i, h := range hosts {
		names[i] = h.Name
	}
	return joinNames(names)
}

func newRunID(now time.Time) string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return now.UTC().Format("20060102-150405") + "-" + hex.EncodeToString(b)
}

func whoAmI(deps *app.Deps) string {
	h, _ := os.Hostname()
	u := deps.Env.User
	if u == "" {
		u = "unknown"
	}
	return u + "@" + h
}

// gitRev is the flake repository's commit, "-dirty" when it has changes;
// "" outside git.
func gitRev(ctx context.Context, deps *app.Deps, fleet *inventory.Fleet) string {
	r := deps.Runner()
	res, err := r.Run(ctx, execx.Cmd{Argv: []string{"git", "-C", fleet.Dir, "rev-parse", "--short=12", "HEAD"}, ReadOnly: true})
	if err != nil {
		return ""
	}
	rev := strings.TrimSpace(string(res.Stdout))
	if res, err := r.Run(ctx, execx.Cmd{Argv: []string{"git", "-C", fleet.Dir, "status", "--porcelain"}, ReadOnly: true}); err == nil && len(strings.TrimSpace(string(res.Stdout))) > 0 {
		rev += "-dirty"
	}
	return rev
}
