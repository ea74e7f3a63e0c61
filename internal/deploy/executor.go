package deploy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/nixctl/nixctl/internal/check"
	"github.com/nixctl/nixctl/internal/eval"
	"github.com/nixctl/nixctl/internal/execx"
	"github.com/nixctl/nixctl/internal/fault"
	"github.com/nixctl/nixctl/internal/hostops"
	"github.com/nixctl/nixctl/internal/inventory"
	"github.com/nixctl/nixctl/internal/nix"
	"github.com/nixctl/nixctl/internal/parallel"
)

// Events receives progress; implementations must be safe for concurrent use.
type Events interface {
	Stage(host, stage string)
	Done(host, result string, failed bool)
	// Writer receives a host's child output, line by line.
	Writer(host string) io.Writer
}

// Env is what the executor runs with.
type Env struct {
	Runner execx.Runner
	// Hosts opens hosts for their operations (lock, status, rollback).
	Hosts hostops.Connector
	// Probe runs the tcp and http health checks (nil: NetProbe).
	Probe  Probe
	Events Events
	Fleet  *inventory.Fleet
	// LogDir receives <host>.log for every host ("" = no log files).
	LogDir string
	RunID  string
	// Who (user@machine) and GitRev go into each host's lock.
	Who    string
	GitRev string
	Now    func() time.Time
	// Approve is shown the plan of every host after the diff stage (with
	// Options.Diff) and returns an error to stop before activation; nil
	// Approve goes on.
	Approve func(plan []HostResult) error
	// SecretsAccess, when set, runs in the check stage: a host it returns
	// an error for (it would fail to decrypt a secret it uses) stops there,
	// before anything is built or activated.
	SecretsAccess *SecretsAccess
}

// SecretsAccess is the check stage's secrets check. What it needs from each
// host's configuration is evaluated in the same nix processes as the
// host's toplevel, so the host is still evaluated once.
type SecretsAccess struct {
	// Item is the value to evaluate for host h (through
	// builtins.getFlake, beside the toplevels).
	Item func(h inventory.Host) eval.Item
	// Check returns the hosts that would fail, each with its error, from
	// the hosts that passed the check and their Item's results, in order.
	Check func(ctx context.Context, hosts []inventory.Host, evaluated []eval.Result) map[string]error
}

// hostRun is one host's state through the run.
type hostRun struct {
	plan HostPlan
	// installable is what the build builds: the evaluated derivation, or
	// the plan's flake attribute.
	installable string
	res         HostResult
	stage       string
	start       time.Time
	session     hostops.System
	// back is the connection that found the host rolled back by itself.
	back   hostops.System
	locked bool
	done   bool
	log    *os.File
	out    io.Writer
	mu     sync.Mutex
}

type executor struct {
	env       Env
	plan      *Plan
	parent    context.Context
	ctx       context.Context // cancelled by --fail-fast too
	cancelRun context.CancelFunc
	hosts     []*hostRun
	// declined is why the plan was not approved (nil: it was, or no
	// question was asked).
	declined error
}

// Run executes the plan: check, preflight and lock, one build, then per host
// activation, health checks and rollback. Hosts run in parallel up to
// plan.Parallel; a failing host stops the others only with FailFast. When ctx
// is cancelled, running stages are cancelled, locks released, and the
// report says where each host stopped.
func Run(ctx context.Context, env Env, p *Plan) *Report {
	if env.Now == nil {
		env.Now = time.Now
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	x := &executor{env: env, plan: p, parent: ctx, ctx: runCtx, cancelRun: cancel}
	for _, hp := range p.Hosts {
		h := &hostRun{plan: hp, start: env.Now(), stage: StageCheck, res: HostResult{Host: hp.Host.Name, Action: actionName(p)}}
		h.out = env.Events.Writer(hp.Host.Name)
		if env.LogDir != "" {
			if f, err := os.OpenFile(filepath.Join(env.LogDir, hp.Host.Name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644); err == nil {
				h.log = f
				h.out = io.MultiWriter(f, h.out)
				h.res.Log = f.Name()
			}
		}
		x.hosts = append(x.hosts, h)
	}
	defer x.cleanup(ctx)

	if !p.NoCheck && !p.Rollback {
		x.check()
	}
	if p.Remote() {
		x.parallel(StagePreflight, x.preflight)
	}
	if p.Build != nil {
		x.build()
	}
	if p.Cache != "" {
		x.pushToCache()
	}
	if p.Diff {
		x.parallel(StageDiff, x.diff)
		x.approve()
	}
	x.activateInBatches()

	rep := &Report{RunID: env.RunID, Action: actionName(p), LogDir: env.LogDir, Interrupted: ctx.Err() != nil, Declined: x.declined}
	for _, h := range x.hosts {
		if !h.done {
			x.finish(h, ResultOK, nil)
		}
		rep.Hosts = append(rep.Hosts, h.res)
	}
	return rep
}

func actionName(p *Plan) string {
	if p.Rollback {
		return "rollback"
	}
	return p.Action
}

// active lists hosts still going.
func (x *executor) active() []*hostRun {
	var out []*hostRun
	for _, h := range x.hosts {
		if !h.done {
			out = append(out, h)
		}
	}
	return out
}

// parallel runs f for every active host, plan.Parallel at a time; hosts not
// started when the run is cancelled end as cancelled or interrupted, before
// stage.
func (x *executor) parallel(stage string, f func(h *hostRun)) {
	x.parallelOver(x.active(), stage, f)
}

func (x *executor) parallelOver(hosts []*hostRun, stage string, f func(h *hostRun)) {
	parallel.EachUntil(x.ctx, len(hosts), x.plan.Parallel, func(i int) { f(hosts[i]) }, func(i int) {
		h := hosts[i]
		h.mu.Lock()
		h.stage = stage
		h.mu.Unlock()
		x.fail(h, fmt.Errorf("not started: %w", x.ctx.Err()))
	})
}

func (x *executor) setStage(h *hostRun, stage string) {
	h.mu.Lock()
	h.stage = stage
	h.mu.Unlock()
	x.env.Events.Stage(h.plan.Host.Name, stage)
	x.logf(h, "== %s", stage)
}

func (x *executor) logf(h *hostRun, format string, args ...any) {
	if h.log != nil {
		fmt.Fprintf(h.log, "%s "+format+"\n", append([]any{x.env.Now().Format(time.RFC3339)}, args...)...)
	}
}

// fail ends h at its current stage; the result depends on why.
func (x *executor) fail(h *hostRun, err error) {
	result := ResultFailed
	switch {
	case x.parent.Err() != nil:
		result = ResultInterrupted
	case x.ctx.Err() != nil && errors.Is(err, context.Canceled):
		result = ResultCancelled
	}
	x.finish(h, result, err)
}

func (x *executor) finish(h *hostRun, result string, err error) {
	h.mu.Lock()
	if h.done {
		h.mu.Unlock()
		return
	}
	h.done = true
	h.res.Result = result
	h.res.Stage = h.stage
	if result == ResultOK {
		h.res.Stage = StageDone
	}
	if err != nil {
		h.res.Error = x.message(h.plan.Host.Name, err)
		h.res.Hint = fault.HintOf(err)
	}
	h.res.Duration = x.env.Now().Sub(h.start)
	h.mu.Unlock()
	if err != nil {
		x.logf(h, "%s: %v", result, err)
	} else {
		x.logf(h, "%s", result)
	}
	x.env.Events.Done(h.plan.Host.Name, result, result != ResultOK)
	if result != ResultOK && result != ResultInterrupted && result != ResultCancelled && x.plan.FailFast {
		x.cancelRun()
	}
}

func (x *executor) check() {
	var hosts []inventory.Host
	for _, h := range x.hosts {
		x.setStage(h, StageCheck)
		hosts = append(hosts, h.plan.Host)
	}
	// One evaluation of every host, whose derivations the build then
	// builds: no host is evaluated twice. nix flake check is left to
	// nixctl check and ci: it would evaluate every host of the flake again.
	o := check.Options{Hosts: hosts, EvalJobs: x.plan.EvalJobs}
	if sa := x.env.SecretsAccess; sa != nil {
		for _, h := range hosts {
			o.With = append(o.With, sa.Item(h))
		}
		o.WholeFlake = true
	}
	items, evaluated, err := check.EvaluateWith(x.ctx, x.env.Runner, x.env.Fleet, o, nil)
	if err != nil {
		for _, h := range x.hosts {
			x.fail(h, err)
		}
		return
	}
	for _, it := range items {
		if it.OK {
			for _, h := range x.hosts {
				if it.Name == h.plan.Host.Name {
					h.res.DrvPath = it.DrvPath
				}
			}
			continue
		}
		err := fmt.Errorf("check failed: %s", it.Summary())
		for _, h := range x.hosts {
			if it.Kind == check.KindFlake || it.Kind == check.KindHost && it.Name == h.plan.Host.Name {
				x.finish(h, ResultFailed, fault.New(fault.Check, err, "run 'nixctl check' to see every error; --no-check skips this stage"))
			}
		}
	}
	x.checkSecrets(evaluated)
}

// checkSecrets stops the hosts that would fail to decrypt their secrets;
// evaluated are the results of SecretsAccess.Item for x.hosts, in order.
func (x *executor) checkSecrets(evaluated []eval.Result) {
	if x.env.SecretsAccess == nil {
		return
	}
	var hosts []inventory.Host
	var results []eval.Result
	for i, h := range x.hosts {
		if !h.done {
			hosts = append(hosts, h.plan.Host)
			results = append(results, evaluated[i])
		}
	}
	if len(hosts) == 0 {
		return
	}
	failed := x.env.SecretsAccess.Check(x.ctx, hosts, results)
	for _, h := range x.hosts {
		if err, ok := failed[h.plan.Host.Name]; ok && !h.done {
			x.finish(h, ResultFailed, err)
		}
	}
}

func (x *executor) hostCtx(parent context.Context) (context.Context, context.CancelFunc) {
	if x.plan.Timeout > 0 {
		return context.WithTimeout(parent, x.plan.Timeout)
	}
	return context.WithCancel(parent)
}

func (x *executor) preflight(h *hostRun) {
	ctx, cancel := x.hostCtx(x.ctx)
	defer cancel()
	x.setStage(h, StagePreflight)
	s, err := preflight(ctx, x.env.Hosts, h.plan)
	if err != nil {
		x.fail(h, timeoutErr(ctx, x.plan.Timeout, err))
		return
	}
	h.session = s
	if err := preflightBuildHost(ctx, x.env.Hosts, h.plan); err != nil {
		x.fail(h, timeoutErr(ctx, x.plan.Timeout, err))
		return
	}
	if x.plan.PlanOnly {
		return
	}
	x.setStage(h, StageLock)
	info := LockInfo{RunID: x.env.RunID, Who: x.env.Who, Started: x.env.Now().UTC(), GitRev: x.env.GitRev, Action: actionName(x.plan), PID: os.Getpid()}
	if err := acquireLock(ctx, s, h.plan, info, x.plan.BreakLock); err != nil {
		x.fail(h, timeoutErr(ctx, x.plan.Timeout, err))
		return
	}
	h.locked = true
}

// build runs the one nix build of every active host built here. When it
// fails with several hosts and --keep-going, each is built alone (the store
// keeps what already built) to tell which hosts fail.
func (x *executor) build() {
	var local []*hostRun
	for _, h := range x.active() {
		if h.plan.Installable != "" {
			local = append(local, h)
			x.setStage(h, StageBuild)
		}
	}
	if len(local) == 0 {
		return
	}
	x.derivationsFor(local)
	x.useDerivations(local)
	err := x.buildHosts(local)
	if err != nil && len(local) > 1 && !x.plan.FailFast && x.ctx.Err() == nil {
		for _, h := range local {
			if err := x.buildHosts([]*hostRun{h}); err != nil {
				x.fail(h, err)
			}
		}
	} else if err != nil {
		for _, h := range local {
			x.fail(h, err)
		}
	}
	if x.plan.Action == "build" && !x.plan.Rollback {
		for _, h := range local {
			x.finish(h, ResultOK, nil)
		}
	}
	for _, h := range local {
		if !h.done && h.res.StorePath == "" && (h.plan.ByStorePath || h.plan.Verify) {
			x.fail(h, fault.New(fault.Build, fmt.Errorf("nix build did not say which of the systems it built is %s's", h.plan.Host.Name),
				"nixctl activates only the system it built: run 'nixctl check "+h.plan.Host.Name+"', then deploy again"))
		}
	}
}

// derivationsFor evaluates, in one nix process, the derivations of the
// hosts the check stage did not evaluate (--no-check) when there are
// several and a later stage needs their systems: nix build --json does not
// answer in the order of its installables, and only the derivation tells
// which system is whose.
func (x *executor) derivationsFor(local []*hostRun) {
	var hosts []inventory.Host
	for _, h := range local {
		if h.res.DrvPath == "" {
			hosts = append(hosts, h.plan.Host)
		}
	}
	if len(local) < 2 || len(hosts) == 0 || !x.needsStorePaths() {
		return
	}
	// Only the matching of build results needs it: a dry run, whose
	// build answers placeholders, skips it.
	o := check.Options{Hosts: hosts, EvalJobs: x.plan.EvalJobs, Skippable: "evaluating the --no-check hosts' derivations to tell their builds apart"}
	items, err := check.Evaluate(x.ctx, x.env.Runner, x.env.Fleet, o, nil)
	if err != nil {
		return // the build evaluates them again and says what is wrong
	}
	for _, it := range items {
		for _, h := range local {
			if it.OK && it.Kind == check.KindHost && it.Name == h.plan.Host.Name {
				h.res.DrvPath = it.DrvPath
			}
		}
	}
}

// needsStorePaths reports whether a later stage needs each host's built
// system: the diff, the cache push and every activation do (nixctl
// activates exactly the system it built, or checks that the host runs it).
func (x *executor) needsStorePaths() bool {
	return x.plan.Diff || x.plan.Cache != "" || x.plan.Action != "build"
}

func (x *executor) buildHosts(hosts []*hostRun) error {
	installables := make([]string, len(hosts))
	var outs []io.Writer
	for i, h := range hosts {
		installables[i] = h.installable
		outs = append(outs, h.out)
	}
	c := *x.plan.Build
	c.Argv = nix.Build(installables)
	c.Planned = plannedBuild(hosts)
	w := io.MultiWriter(outs...)
	if len(hosts) > 1 {
		w = x.env.Events.Writer("nix build")
		for _, h := range hosts {
			if h.log != nil {
				w = io.MultiWriter(w, h.log)
			}
		}
	}
	c.Stderr = nix.LogWriter(w)
	res, err := x.env.Runner.Run(x.ctx, c)
	if err != nil {
		// The runner's error ends with nix's last raw log line: say what
		// nix reported instead.
		if res != nil && x.ctx.Err() == nil {
			if fails := nix.ParseBuildFailures(res.Stderr); len(fails) > 0 {
				err = fmt.Errorf("nix build exited with code %d: %s", res.ExitCode, fails[0].Message)
			} else if errs := nix.ParseErrors(res.Stderr, x.env.Fleet.Dir); len(errs) > 0 {
				err = fmt.Errorf("nix build exited with code %d: %s", res.ExitCode, errs[0].String())
			}
		}
		return fault.New(fault.Build, err, "the build's output is in the host's log file; 'nixctl check' shows evaluation errors with their file and line")
	}
	results, err := nix.ParseBuildResults(res.Stdout)
	if err != nil {
		return fault.New(fault.Build, err, "")
	}
	for _, h := range hosts {
		for _, r := range results {
			// The derivation the evaluation found, or else the only one;
			// in a dry run, the placeholder that stands for the host's.
			if h.res.DrvPath != "" && r.DrvPath == h.res.DrvPath || h.res.DrvPath == "" && len(hosts) == 1 && len(results) == 1 ||
				r.Out() == BuiltPlaceholder(h.plan.Host.Name) {
				h.res.StorePath = r.Out()
			}
		}
	}
	return nil
}

// plannedBuild is what a dry run answers for the build: nix build --json
// naming each host's system by its placeholder.
func plannedBuild(hosts []*hostRun) []byte {
	results := make([]nix.BuildResult, len(hosts))
	for i, h := range hosts {
		results[i] = nix.BuildResult{DrvPath: h.res.DrvPath, Outputs: map[string]string{"out": BuiltPlaceholder(h.plan.Host.Name)}}
	}
	b, _ := json.Marshal(results)
	return b
}

// useDerivations makes the build build the derivations the check stage
// evaluated instead of the flake's attributes, which nix would evaluate
// again. Without them (--no-check) the build is the one evaluation.
func (x *executor) useDerivations(hosts []*hostRun) {
	drvs := make([]string, len(hosts))
	for i, h := range hosts {
		h.installable, drvs[i] = h.plan.Installable, h.res.DrvPath
	}
	for _, d := range drvs {
		if d == "" {
			return
		}
	}
	installables, ok := eval.DrvInstallables(x.ctx, x.env.Runner, drvs)
	if !ok {
		return
	}
	for i, h := range hosts {
		h.installable = installables[i]
	}
}

func (x *executor) activate(h *hostRun) {
	ctx, cancel := x.hostCtx(x.ctx)
	defer cancel()
	p := x.plan
	var err error
	var armed *armedWatchdog
	if p.Rollback && h.plan.RollbackRemote != nil {
		x.setStage(h, StageRollback)
		err = h.plan.RollbackRemote.run(ctx, h.session)
	} else {
		if h.plan.MagicRollback && h.session != nil {
			if armed, err = x.arm(ctx, h); err != nil {
				x.fail(h, timeoutErr(ctx, p.Timeout, err))
				return
			}
		}
		x.setStage(h, StageActivate)
		c := h.plan.withStorePath(h.plan.Activate, h.res.StorePath)
		c.Stdout, c.Stderr = h.out, h.out
		_, err = x.env.Runner.Run(ctx, c)
	}
	if armed != nil && x.confirm(h, armed, err) {
		return
	}
	if err != nil {
		x.fail(h, timeoutErr(ctx, p.Timeout, activationErr(err)))
		return
	}
	// A system nixctl did not build, then an unhealthy one, is undone.
	var bad error
	if h.plan.Verify {
		bad = x.verify(ctx, h)
	}
	if bad == nil && p.Activates() {
		x.setStage(h, StageHealth)
		bad = newHealthChecker(x.env.Hosts, x.env.Probe, p.HealthInterval).run(ctx, h.plan)
	}
	if bad != nil {
		if x.ctx.Err() != nil {
			x.fail(h, bad)
			return
		}
		x.logf(h, "%v", bad)
		x.rollback(h, bad)
		return
	}
	if h.session != nil && p.Action != "dry-activate" {
		h.res.Generation = currentGeneration(ctx, h.session)
	}
	x.finish(h, ResultOK, nil)
}

// rollback undoes a deploy whose health checks failed, then checks again.
func (x *executor) rollback(h *hostRun, healthErr error) {
	if h.plan.RollbackCmd == nil && h.plan.RollbackRemote == nil || x.plan.Rollback {
		x.finish(h, ResultFailed, healthErr)
		return
	}
	// The rollback runs even when --timeout ran out for the activation.
	ctx, cancel := x.hostCtx(x.ctx)
	defer cancel()
	x.setStage(h, StageRollback)
	var err error
	if h.plan.RollbackCmd != nil {
		c := *h.plan.RollbackCmd
		c.Stdout, c.Stderr = h.out, h.out
		_, err = x.env.Runner.Run(ctx, c)
	} else {
		err = h.plan.RollbackRemote.run(ctx, h.session)
	}
	if err != nil {
		x.finish(h, ResultRollbackFailed, fault.New(fault.Failure,
			fmt.Errorf("%w; then the rollback failed: %w", healthErr, err), "the host may run the broken generation: log in and run nixos-rebuild switch --rollback"))
		return
	}
	if !x.plan.Activates() {
		// boot: the running system never changed; only the boot default did.
		x.finish(h, ResultRolledBack, healthErr)
		return
	}
	x.setStage(h, StageHealth)
	if err := newHealthChecker(x.env.Hosts, x.env.Probe, x.plan.HealthInterval).run(ctx, h.plan); err != nil {
		x.finish(h, ResultRollbackFailed, fault.New(fault.Failure,
			fmt.Errorf("%w; still unhealthy after the rollback: %w", healthErr, err), "the previous generation is active but unhealthy: look at the host"))
		return
	}
	h.res.Generation = currentGeneration(ctx, h.session)
	x.finish(h, ResultRolledBack, healthErr)
}

func activationErr(err error) error {
	var ee *execx.ExitError
	if errors.As(err, &ee) && ee.ExitCode > 0 {
		return fault.New(fault.Failure, err, "the host's log file has nixos-rebuild's full output")
	}
	return err
}

func timeoutErr(ctx context.Context, d time.Duration, err error) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fault.New(fault.Failure, fmt.Errorf("timed out after %s: %w", d, err), "raise --timeout, or look at the host's log file")
	}
	return err
}

// cleanup releases every lock this run holds, even after a cancellation,
// and closes sessions and logs.
func (x *executor) cleanup(ctx context.Context) {
	var wg sync.WaitGroup
	for _, h := range x.hosts {
		if h.session == nil {
			if h.log != nil {
				_ = h.log.Close()
			}
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if h.locked {
				ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
				record := LockInfo{
					RunID: x.env.RunID, Who: x.env.Who, GitRev: x.env.GitRev, Action: actionName(x.plan),
					Started: h.start.UTC(), Finished: x.env.Now().UTC(), Result: h.res.Result, Generation: h.res.Generation,
				}
				err := h.session.ReleaseDeployLock(ctx, record)
				if err != nil && ctx.Err() == nil {
					// The activation may have dropped the connection (sshd
					// or the network restarted): release over a new one.
					if s, derr := x.env.Hosts.Connect(ctx, h.plan.Route, h.plan.Elevate); derr == nil {
						err = s.ReleaseDeployLock(ctx, record)
						_ = s.Close()
					}
				}
				if err != nil {
					x.logf(h, "releasing the lock: %v", err)
					fmt.Fprintf(x.env.Events.Writer(h.plan.Host.Name), "warning: could not release the lock %s: %v\n", hostops.DeployLockPath, err)
				}
				cancel()
			}
			_ = h.session.Close()
			if h.log != nil {
				_ = h.log.Close()
			}
		}()
	}
	wg.Wait()
}
