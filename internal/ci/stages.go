package ci

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/nixctl/nixctl/internal/check"
	"github.com/nixctl/nixctl/internal/deploy"
	"github.com/nixctl/nixctl/internal/eval"
	"github.com/nixctl/nixctl/internal/execx"
	"github.com/nixctl/nixctl/internal/fault"
	"github.com/nixctl/nixctl/internal/inventory"
	"github.com/nixctl/nixctl/internal/nix"
	"github.com/nixctl/nixctl/internal/parallel"
	"github.com/nixctl/nixctl/internal/secrets"
)

// Case kinds beyond check's host and profile.
const (
	KindInventory = "inventory"
	KindSecret    = "secret"
	KindCheck     = "check"
	KindFlake     = "flake"
	KindBuild     = "build"
	KindDeploy    = "deploy"
)

// SecretFile is what the secrets stage needs to know of one file.
type SecretFile struct {
	// Path is relative to the repository.
	Path     string
	Status   string
	Problems []string
	// Note is shown with a passing file ("MAC verified").
	Note string
}

// Deployer deploys the hosts selector selects and returns the report; an
// error means no host was started (the plan could not be made).
type Deployer func(ctx context.Context, selector string) (*deploy.Report, error)

// SecretsVerifier checks every file of the fleet's secrets directory.
type SecretsVerifier func(ctx context.Context, fleet *inventory.Fleet) ([]SecretFile, error)

// Options say what a run does.
type Options struct {
	// Fleet is the inventory; nil when it did not load (FleetErr says why).
	Fleet    *inventory.Fleet
	FleetErr error
	// FlakeDir is the repository, used for nix flake check when Fleet is nil.
	FlakeDir string
	NoBuild  bool
	// Deploy, when set, is the selector the deploy stage deploys through
	// RunDeploy once every other stage passed.
	Deploy string
	// RunDeploy is nixctl deploy SELECTOR --yes --no-check, in this
	// process: the stages before it were its check.
	RunDeploy Deployer
	// VerifySecrets is the secrets stage; nil skips it.
	VerifySecrets SecretsVerifier
	// CheckSecretsAccess is the secrets-access stage; nil skips it.
	CheckSecretsAccess SecretsAccessChecker
	// Log receives the output of children worth showing (deploy).
	Log      io.Writer
	Parallel int
	// EvalJobs bounds the nix evaluations at once (0: from cores and memory).
	EvalJobs int
}

// Events receives progress. Implementations must be safe for concurrent use.
type Events interface {
	StageStarted(name string)
	CaseFinished(stage string, c Case)
	StageFinished(s Stage)
}

type noEvents struct{}

func (noEvents) StageStarted(string)       {}
func (noEvents) CaseFinished(string, Case) {}
func (noEvents) StageFinished(Stage)       {}

// Run runs every stage and returns the report. Failures are in the report;
// the error is set only when the run was interrupted.
func Run(ctx context.Context, r execx.Runner, o Options, ev Events) (*Report, error) {
	if ev == nil {
		ev = noEvents{}
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	rn := &run{r: r, o: o, ev: ev, rep: &Report{Started: time.Now()}, flakeErrors: map[string][]Problem{}}
	rn.stage(ctx, StageInventory, fault.Inventory, rn.inventory)
	rn.stage(ctx, StageSecrets, fault.Secrets, rn.secrets)
	// Hosts and profiles are evaluated beside nix flake check, not after
	// it; the evaluate stage reports them.
	rn.startEvaluation(ctx)
	rn.stage(ctx, StageFlake, fault.Check, rn.flake)
	rn.stage(ctx, StageEvaluate, fault.Eval, rn.evaluate)
	rn.stage(ctx, StageSecretsAccess, fault.Secrets, rn.secretsAccess)
	rn.stage(ctx, StageBuild, fault.Build, rn.build)
	if o.Deploy != "" {
		rn.stage(ctx, StageDeploy, fault.Failure, rn.deploy)
	}
	rn.rep.Duration = time.Since(rn.rep.Started)
	rn.rep.settle()
	return rn.rep, ctx.Err()
}

type run struct {
	r   execx.Runner
	o   Options
	ev  Events
	rep *Report

	// Between stages: inventory entries the flake lacks, evaluated items.
	missing   map[string]bool
	evaluated []check.Item
	// evalDone is closed when the evaluation of hosts and profiles,
	// started before the flake stage, has put its items in evalItems (nil
	// when there is nothing to evaluate).
	evalDone  chan struct{}
	evalItems []check.Item
	// evalWith are the sops declarations of every host and profile of
	// the fleet, evaluated with them (see secretsDecls), in the order of
	// secrets.DeclItems.
	evalWith []eval.Result
	// flakeErrors are nix flake check's errors about an inventory host or
	// profile (by output, "nixosConfigurations.a"), left to the evaluate stage.
	flakeErrors map[string][]Problem
}

func (rn *run) stage(ctx context.Context, name string, kind fault.Kind, body func(context.Context, *Stage)) {
	st := Stage{Name: name, Cases: []Case{}}
	if err := ctx.Err(); err != nil {
		st.Status, st.Reason = Skipped, "interrupted"
	} else {
		rn.ev.StageStarted(name)
		start := time.Now()
		body(ctx, &st)
		if st.Kind != fault.OK {
			kind = st.Kind // deploy passes its own kind on
		}
		st.finish(kind, time.Since(start))
	}
	rn.rep.Stages = append(rn.rep.Stages, st)
	rn.ev.StageFinished(st)
}

func (rn *run) add(st *Stage, c Case) {
	st.Cases = append(st.Cases, c)
	rn.ev.CaseFinished(st.Name, c)
}

func skip(st *Stage, reason string) { st.Status, st.Reason = Skipped, reason }

// repoDir is the repository directory nix paths are made relative to.
func (rn *run) repoDir() string {
	if rn.o.Fleet != nil {
		return rn.o.Fleet.Dir
	}
	return rn.o.FlakeDir
}

func (rn *run) flakeRef() string {
	if rn.o.Fleet != nil {
		return rn.o.Fleet.Flake
	}
	return rn.o.FlakeDir
}

// --- 1. inventory -------------------------------------------------------

func (rn *run) inventory(ctx context.Context, st *Stage) {
	start := time.Now()
	fleet := rn.o.Fleet
	if fleet == nil {
		c := Case{Kind: KindInventory, Name: inventory.FileName, Status: Failed, Duration: time.Since(start)}
		var ve *inventory.ValidationError
		if errors.As(rn.o.FleetErr, &ve) {
			c.Name = ve.File
			for _, p := range ve.Problems {
				msg := p.Msg
				if p.Field != "" {
					msg = p.Field + ": " + msg
				}
				c.Problems = append(c.Problems, Problem{File: p.File, Line: p.Line, Message: msg})
			}
		} else {
			msg := "the inventory did not load"
			if rn.o.FleetErr != nil {
				msg = rn.o.FleetErr.Error()
			}
			c.Problems = []Problem{{Message: msg}}
		}
		rn.add(st, c)
		return
	}
	file := rn.rel(fleet.File)
	rn.missing = map[string]bool{}
	agree, err := check.Agree(ctx, rn.r, fleet)
	if err != nil {
		c := Case{Kind: KindInventory, Name: file, Status: Failed, Duration: time.Since(start)}
		var ee *check.EvalError
		if errors.As(err, &ee) {
			c.Problems = []Problem{fromNix(ee.Err)}
			c.Problems[0].Message = "evaluating " + ee.What + ": " + c.Problems[0].Message
		} else {
			c.Problems = []Problem{{Message: err.Error()}}
		}
		rn.add(st, c)
		return
	}
	valid := Case{Kind: KindInventory, Name: file, Status: Passed, Duration: time.Since(start),
		Output: fmt.Sprintf("valid: %d hosts, %d profiles", len(fleet.Hosts), len(fleet.Profiles))}
	for _, u := range agree.Unlisted {
		valid.Output += "\n" + u.String() + " is in the flake but not in the inventory"
	}
	rn.add(st, valid)
	missing := map[string]check.Mismatch{}
	for _, m := range agree.Missing {
		missing[m.Kind+":"+m.Name] = m
		rn.missing[m.Kind+":"+m.Name] = true
	}
	entry := func(kind, name string, line int) {
		c := Case{Kind: kind, Name: name, Status: Passed}
		if m, ok := missing[kind+":"+name]; ok {
			c.Status = Failed
			c.Problems = []Problem{{File: file, Line: line, Message: m.String() + " (fix attr: in " + inventory.FileName + ", or add the output to flake.nix)"}}
		}
		rn.add(st, c)
	}
	for _, h := range fleet.Hosts {
		entry(check.KindHost, h.Name, h.Line)
	}
	for _, p := range fleet.Profiles {
		entry(check.KindProfile, p.Name, p.Line)
	}
}

func (rn *run) rel(path string) string {
	if r, err := filepath.Rel(rn.repoDir(), path); err == nil && !strings.HasPrefix(r, "..") {
		return r
	}
	return path
}

// --- 2. secrets ---------------------------------------------------------

func (rn *run) secrets(ctx context.Context, st *Stage) {
	switch {
	case rn.o.Fleet == nil:
		skip(st, "the inventory did not load")
		return
	case rn.o.VerifySecrets == nil:
		skip(st, "no secrets verifier")
		return
	}
	start := time.Now()
	files, err := rn.o.VerifySecrets(ctx, rn.o.Fleet)
	if err != nil {
		rn.add(st, Case{Kind: KindSecret, Name: rn.rel(rn.o.Fleet.SecretsDir()), Status: Failed, Duration: time.Since(start),
			Problems: []Problem{{Message: err.Error()}}})
		return
	}
	if len(files) == 0 {
		if _, err := os.Stat(rn.o.Fleet.SopsConfigPath()); err == nil {
			// .sops.yaml was read and is valid: a fleet with no secret
			// yet passes.
			rn.add(st, Case{Kind: KindSecret, Name: rn.rel(rn.o.Fleet.SopsConfigPath()), Status: Passed, Duration: time.Since(start),
				Output: "no secret files under " + rn.rel(rn.o.Fleet.SecretsDir()) + " yet"})
			return
		}
		skip(st, "no secret files under "+rn.rel(rn.o.Fleet.SecretsDir()))
		return
	}
	per := time.Since(start) / time.Duration(len(files))
	for _, f := range files {
		c := Case{Kind: KindSecret, Name: f.Path, Status: Passed, Duration: per, Output: f.Note}
		for _, p := range f.Problems {
			c.Problems = append(c.Problems, Problem{File: f.Path, Message: p})
		}
		if len(c.Problems) == 0 && f.Status != "" && f.Status != "ok" {
			c.Problems = []Problem{{File: f.Path, Message: f.Status}}
		}
		if len(c.Problems) > 0 {
			c.Status = Failed
		}
		rn.add(st, c)
	}
}

// --- 3. flake -----------------------------------------------------------

type flakeCheckCase struct {
	system, name string
	pos          nix.Position
	drv          string
	c            Case
}

func (rn *run) flake(ctx context.Context, st *Stage) {
	dir, ref := rn.repoDir(), rn.flakeRef()
	if ref == "" {
		skip(st, "no flake repository found")
		return
	}
	if rn.evalDone != nil && nix.LockMissing(ref, dir) {
		// The evaluation writes flake.lock before this stage reads it
		// (see nix.LockMissing).
		<-rn.evalDone
	}
	checks := rn.listChecks(ctx, ref, dir)
	if !rn.o.NoBuild {
		rn.checkDrvPaths(ctx, ref, dir, checks)
	}
	start := time.Now()
	argv := nix.FlakeCheck(ref, nix.FlakeCheckOptions{NoBuild: rn.o.NoBuild, KeepGoing: true, ReadLock: true})
	res, err := rn.r.Run(ctx, execx.Cmd{Argv: argv, Dir: dir, ReadOnly: true})
	general := Case{Kind: KindFlake, Name: "nix flake check", Status: Passed, Duration: time.Since(start)}
	if err != nil {
		rn.attributeFlakeCheck(res, err, dir, checks, &general)
	}
	rn.add(st, general)
	for _, fc := range checks {
		fc.c.Duration = general.Duration / time.Duration(len(checks)+1)
		if len(fc.c.Problems) > 0 {
			fc.c.Status = Failed
		}
		rn.add(st, fc.c)
	}
}

// attributeFlakeCheck spreads a failed nix flake check over its cases: an
// error whose trace names a check, or whose failed derivation is a check's,
// goes to that check; one about an inventory host or profile is left to the
// evaluate stage; the rest fail the flake as a whole.
func (rn *run) attributeFlakeCheck(res *execx.Result, err error, dir string, checks []*flakeCheckCase, general *Case) {
	byOutput := map[string]*flakeCheckCase{}
	byDrv := map[string]*flakeCheckCase{}
	for _, fc := range checks {
		byOutput["checks."+fc.system+"."+fc.name] = fc
		if fc.drv != "" {
			byDrv[fc.drv] = fc
		}
	}
	var stderr []byte
	if res != nil {
		stderr = res.Stderr
	}
	failures := map[string]nix.BuildFailure{}
	for _, f := range nix.ParseBuildFailures(stderr) {
		failures[f.Drv] = f
	}
	attributed := 0
	var loose []nix.BuildFailure
	for _, e := range nix.ParseOutputErrors(stderr, dir) {
		if fc, ok := byOutput[e.Output]; ok {
			fc.c.Problems = append(fc.c.Problems, fromNix(e.Error))
			attributed++
			continue
		}
		if rn.evaluatedElsewhere(e.Output) {
			// The evaluate stage reports it once, with its location.
			rn.flakeErrors[e.Output] = append(rn.flakeErrors[e.Output], fromNix(e.Error))
			attributed++
			continue
		}
		if f, ok := buildFailureIn(e.Message, failures); ok {
			if fc, ok := byDrv[f.Drv]; ok {
				p := Problem{File: fc.pos.File, Line: fc.pos.Line, Column: fc.pos.Column, Message: failureMessage(f)}
				fc.c.Problems = append(fc.c.Problems, p)
				fc.c.Output = strings.Join(f.Log, "\n")
				attributed++
				continue
			}
			if !f.Dependencies {
				loose = append(loose, f)
				continue
			}
		}
		general.Problems = append(general.Problems, fromNix(e.Error))
	}
	// A dependency of a check failed: its log belongs to that check.
	for _, f := range loose {
		placed := false
		for _, fc := range checks {
			if len(fc.c.Problems) > 0 {
				fc.c.Output = strings.TrimSpace(fc.c.Output + "\n" + f.Message + "\n" + strings.Join(f.Log, "\n"))
				placed = true
			}
		}
		if !placed {
			general.Problems = append(general.Problems, Problem{Message: f.Message})
			general.Output = strings.Join(f.Log, "\n")
		}
	}
	if attributed == 0 && len(general.Problems) == 0 {
		general.Problems = []Problem{{Message: processError(res, err)}}
	}
	if len(general.Problems) > 0 {
		general.Status = Failed
	}
}

// evaluatedElsewhere reports whether an error about a flake output belongs
// to the evaluate stage (a host or profile of the inventory).
func (rn *run) evaluatedElsewhere(output string) bool {
	fleet := rn.o.Fleet
	if fleet == nil {
		return false
	}
	for _, h := range fleet.Hosts {
		if output == "nixosConfigurations."+h.Attr {
			return true
		}
	}
	for _, p := range fleet.Profiles {
		if output == "homeConfigurations."+p.Attr {
			return true
		}
	}
	return false
}

func buildFailureIn(msg string, failures map[string]nix.BuildFailure) (nix.BuildFailure, bool) {
	for drv, f := range failures {
		if strings.Contains(msg, drv) {
			return f, true
		}
	}
	return nix.BuildFailure{}, false
}

// listChecks names every check of every system with where it is defined.
// A checks output that does not evaluate lists nothing: nix flake check
// reports the error itself.
func (rn *run) listChecks(ctx context.Context, ref, dir string) []*flakeCheckCase {
	argv := nix.EvalPositions(ref, []string{"checks"}, 2)
	if rn.evalDone != nil {
		// The evaluation of hosts and profiles runs beside: it writes
		// flake.lock if it must. Without it, this is the stage's first
		// nix process and the one that writes; the others only read.
		argv = append(argv, nix.NoWriteLockFile)
	}
	res, err := rn.r.Run(ctx, execx.Cmd{Argv: argv, Dir: dir, ReadOnly: true})
	if err != nil {
		return nil
	}
	var bySystem map[string]map[string]*nix.Position
	if json.Unmarshal(res.Stdout, &bySystem) != nil {
		return nil
	}
	var out []*flakeCheckCase
	for system, checks := range bySystem {
		for name, pos := range checks {
			fc := &flakeCheckCase{system: system, name: name}
			if pos != nil {
				fc.pos = *pos
				fc.pos.File = nix.RepoPath(pos.File, dir)
			}
			fc.c = Case{Kind: KindCheck, Name: system + "." + name, Status: Passed}
			out = append(out, fc)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].c.Name < out[j].c.Name })
	return out
}

// checkDrvPaths evaluates the derivation of each check nix flake check will
// build (this system's), so a build failure can be traced to its check.
func (rn *run) checkDrvPaths(ctx context.Context, ref, dir string, checks []*flakeCheckCase) {
	rn.parallel(len(checks), func(i int) {
		fc := checks[i]
		if fc.system != nix.System() {
			return
		}
		argv := nix.EvalDrvPath(ref, nix.CheckAttr(fc.system, fc.name), nix.NoWriteLockFile)
		if res, err := rn.r.Run(ctx, execx.Cmd{Argv: argv, Dir: dir, ReadOnly: true}); err == nil {
			fc.drv = strings.TrimSpace(string(res.Stdout))
		}
	})
}

func (rn *run) parallel(n int, fn func(i int)) {
	par := rn.o.Parallel
	if par < 1 {
		par = 2
	}
	parallel.Each(n, par, fn)
}

// --- 4. evaluate --------------------------------------------------------

// startEvaluation evaluates every host and profile the flake has, in the
// background.
func (rn *run) startEvaluation(ctx context.Context) {
	fleet := rn.o.Fleet
	if fleet == nil || ctx.Err() != nil {
		return
	}
	var hosts []inventory.Host
	var profiles []inventory.Profile
	for _, h := range fleet.Hosts {
		if !rn.missing[check.KindHost+":"+h.Name] {
			hosts = append(hosts, h)
		}
	}
	for _, p := range fleet.Profiles {
		if !rn.missing[check.KindProfile+":"+p.Name] {
			profiles = append(profiles, p)
		}
	}
	o := check.Options{Hosts: hosts, Profiles: profiles, EvalJobs: rn.o.EvalJobs}
	if rn.secretsDecls() {
		// The secrets-access stage reads what the same processes
		// evaluate: each machine is evaluated once.
		o.With, o.WholeFlake = secrets.DeclItems(fleet.Hosts, fleet.Profiles), true
	}
	rn.evalDone = make(chan struct{})
	go func() {
		defer close(rn.evalDone)
		rn.evalItems, rn.evalWith, _ = check.EvaluateWith(ctx, rn.r, fleet, o, nil)
	}()
}

func (rn *run) evaluate(_ context.Context, st *Stage) {
	fleet := rn.o.Fleet
	if fleet == nil || rn.evalDone == nil {
		skip(st, "the inventory did not load")
		return
	}
	<-rn.evalDone
	items := rn.evalItems
	byKey := map[string]check.Item{}
	for _, it := range items {
		byKey[it.Kind+":"+it.Name] = it
	}
	each := func(kind, name string) {
		it, ok := byKey[kind+":"+name]
		if !ok {
			reason := "interrupted"
			if rn.missing[kind+":"+name] {
				reason = "not in the flake (see the inventory stage)"
			}
			rn.add(st, Case{Kind: kind, Name: name, Status: Skipped, Reason: reason})
			return
		}
		c := Case{Kind: kind, Name: name, Status: Passed, Output: it.DrvPath, Duration: it.Duration}
		output := "nixosConfigurations." + it.Attr
		if kind == check.KindProfile {
			output = "homeConfigurations." + it.Attr
		}
		if errs := rn.flakeErrors[output]; it.OK && len(errs) > 0 {
			// It evaluates, but nix flake check found something wrong with it.
			c.Status, c.Problems = Failed, errs
		} else if !it.OK {
			c.Status = Failed
			for _, e := range it.Errors {
				c.Problems = append(c.Problems, fromNix(e))
			}
			if len(c.Problems) == 0 {
				c.Problems = []Problem{{Message: "evaluation failed"}}
			}
		} else {
			rn.evaluated = append(rn.evaluated, it)
		}
		rn.add(st, c)
	}
	for _, h := range fleet.Hosts {
		each(check.KindHost, h.Name)
	}
	for _, p := range fleet.Profiles {
		each(check.KindProfile, p.Name)
	}
}

// --- 5. build -----------------------------------------------------------

type buildTarget struct {
	item        check.Item
	installable string
	c           Case
	done        bool
}

func (rn *run) build(ctx context.Context, st *Stage) {
	switch {
	case rn.o.NoBuild:
		skip(st, "--no-build")
		return
	case rn.o.Fleet == nil:
		skip(st, "the inventory did not load")
		return
	}
	fleet := rn.o.Fleet
	var targets []*buildTarget
	for _, it := range rn.evaluated {
		path := nix.ToplevelAttr(it.Attr)
		if it.Kind == check.KindProfile {
			path = nix.ActivationAttr(it.Attr)
		}
		targets = append(targets, &buildTarget{item: it, installable: nix.Installable(fleet.Flake, path...),
			c: Case{Kind: it.Kind, Name: it.Name, Status: Passed}})
	}
	// Build the derivations the evaluate stage found: nothing is
	// evaluated twice.
	drvs := make([]string, len(targets))
	for i, t := range targets {
		drvs[i] = t.item.DrvPath
	}
	if len(drvs) > 0 {
		if installables, ok := eval.DrvInstallables(ctx, rn.r, drvs); ok {
			for i, t := range targets {
				t.installable = installables[i]
			}
		}
	}
	start := time.Now()
	if len(targets) > 0 {
		installables := make([]string, len(targets))
		for i, t := range targets {
			installables[i] = t.installable
		}
		// One invocation: nix shares the evaluation and schedules every
		// build itself (and on the user's remote builders).
		res, err := rn.r.Run(ctx, execx.Cmd{Argv: nix.Build(installables, "--keep-going"), Dir: fleet.Dir, ReadOnly: true})
		elapsed := time.Since(start) / time.Duration(len(targets))
		if err == nil {
			rn.markBuilt(targets, res.Stdout, elapsed)
		} else {
			rn.attributeBuildFailures(ctx, targets, res, elapsed)
		}
	}
	// In inventory order; items that did not evaluate are not built.
	byKey := map[string]*buildTarget{}
	for _, t := range targets {
		byKey[t.item.Kind+":"+t.item.Name] = t
	}
	each := func(kind, name string) {
		if t, ok := byKey[kind+":"+name]; ok {
			rn.add(st, t.c)
			return
		}
		rn.add(st, Case{Kind: kind, Name: name, Status: Skipped, Reason: "not evaluated"})
	}
	for _, h := range fleet.Hosts {
		each(check.KindHost, h.Name)
	}
	for _, p := range fleet.Profiles {
		each(check.KindProfile, p.Name)
	}
}

func (rn *run) markBuilt(targets []*buildTarget, stdout []byte, elapsed time.Duration) {
	results, _ := nix.ParseBuildResults(stdout)
	for _, t := range targets {
		t.c.Duration, t.done = elapsed, true
		for _, r := range results {
			if r.DrvPath == t.item.DrvPath {
				t.c.Output = r.Out()
			}
		}
	}
}

// attributeBuildFailures turns a failed combined build into per-item
// results. Nix 2.8 with --keep-going does not always print every failure
// (the last one can be missing), so items no failure names are built once
// more on their own: instant when already built, else their own error.
func (rn *run) attributeBuildFailures(ctx context.Context, targets []*buildTarget, res *execx.Result, elapsed time.Duration) {
	var stderr []byte
	if res != nil {
		stderr = res.Stderr
	}
	var loose []nix.BuildFailure
	for _, f := range nix.ParseBuildFailures(stderr) {
		matched := false
		for _, t := range targets {
			if t.item.DrvPath == f.Drv {
				rn.failTarget(t, f, elapsed)
				matched = true
			}
		}
		if !matched {
			loose = append(loose, f)
		}
	}
	for _, t := range targets {
		if t.done {
			continue
		}
		start := time.Now()
		r, e := rn.r.Run(ctx, execx.Cmd{Argv: nix.Build([]string{t.installable}, "--keep-going"), Dir: rn.o.Fleet.Dir, ReadOnly: true})
		if e == nil {
			rn.markBuilt([]*buildTarget{t}, r.Stdout, time.Since(start))
			continue
		}
		var own []nix.BuildFailure
		if r != nil {
			own = nix.ParseBuildFailures(r.Stderr)
		}
		if len(own) == 0 {
			t.c.Status, t.done = Failed, true
			t.c.Problems = []Problem{{Message: processError(r, e)}}
			continue
		}
		rn.failTarget(t, own[len(own)-1], time.Since(start))
		loose = append(loose, own[:len(own)-1]...)
	}
	// Failed dependencies: their logs explain the items that needed them.
	for _, f := range loose {
		for _, t := range targets {
			if t.c.Status == Failed && !strings.Contains(t.c.Output, f.Drv) {
				t.c.Output = strings.TrimSpace(t.c.Output + "\n" + f.Message + "\n" + strings.Join(f.Log, "\n"))
			}
		}
	}
	rn.locateFailures(ctx, targets)
}

func (rn *run) failTarget(t *buildTarget, f nix.BuildFailure, elapsed time.Duration) {
	t.c.Status, t.c.Duration, t.done = Failed, elapsed, true
	t.c.Problems = append(t.c.Problems, Problem{Message: failureMessage(f)})
	t.c.Output = strings.Join(f.Log, "\n")
}

// failureMessage is nix's line plus the builder's last log line, which is
// usually the reason.
func failureMessage(f nix.BuildFailure) string {
	if n := len(f.Log); n > 0 && strings.TrimSpace(f.Log[n-1]) != "" {
		return f.Message + ": " + strings.TrimSpace(f.Log[n-1])
	}
	return f.Message
}

// locateFailures points failed builds at where flake.nix defines the host or
// profile, so annotations land on a line.
func (rn *run) locateFailures(ctx context.Context, targets []*buildTarget) {
	positions := map[string]map[string]*nix.Position{}
	for _, t := range targets {
		if t.c.Status != Failed {
			continue
		}
		output := "nixosConfigurations"
		if t.item.Kind == check.KindProfile {
			output = "homeConfigurations"
		}
		if _, ok := positions[output]; !ok {
			positions[output] = nil
			res, err := rn.r.Run(ctx, execx.Cmd{Argv: nix.EvalPositions(rn.o.Fleet.Flake, []string{output}, 1), Dir: rn.o.Fleet.Dir, ReadOnly: true})
			if err == nil {
				var m map[string]*nix.Position
				if json.Unmarshal(res.Stdout, &m) == nil {
					positions[output] = m
				}
			}
		}
		if p := positions[output][t.item.Attr]; p != nil {
			for i := range t.c.Problems {
				if t.c.Problems[i].File == "" {
					t.c.Problems[i].File = nix.RepoPath(p.File, rn.o.Fleet.Dir)
					t.c.Problems[i].Line, t.c.Problems[i].Column = p.Line, p.Column
				}
			}
		}
	}
}

// --- 6. deploy ----------------------------------------------------------

func (rn *run) deploy(ctx context.Context, st *Stage) {
	for _, s := range rn.rep.Stages {
		if s.Status == Failed {
			skip(st, "the "+s.Name+" stage failed")
			return
		}
	}
	start := time.Now()
	rep, err := rn.o.RunDeploy(ctx, rn.o.Deploy)
	elapsed := time.Since(start)
	if err != nil {
		st.Kind = fault.KindOf(err)
	} else if kind := rep.Kind(); kind != fault.OK {
		st.Kind = kind
	}
	if err != nil || len(rep.Hosts) == 0 {
		c := Case{Kind: KindDeploy, Name: rn.o.Deploy, Status: Passed, Duration: elapsed}
		if err != nil {
			c.Status, c.Problems = Failed, []Problem{{Message: withHint(err.Error(), fault.HintOf(err))}}
		}
		rn.add(st, c)
		return
	}
	for _, h := range rep.Hosts {
		c := Case{Kind: check.KindHost, Name: h.Host, Status: Passed, Duration: h.Duration, Output: h.Log}
		if !h.OK() {
			msg := h.Result
			if h.Stage != deploy.StageDone {
				msg += " at " + h.Stage
			}
			if h.Error != "" {
				msg += ": " + h.Error
			}
			c.Status, c.Problems = Failed, []Problem{{Message: withHint(msg, h.Hint)}}
		}
		rn.add(st, c)
	}
	if st.Kind != fault.OK && !slices.ContainsFunc(st.Cases, func(c Case) bool { return c.Status == Failed }) {
		// The deploy failed although every host is fine (interrupted, say).
		rn.add(st, Case{Kind: KindDeploy, Name: rn.o.Deploy, Status: Failed, Duration: elapsed, Problems: []Problem{{Message: "interrupted"}}})
	}
}

func withHint(msg, hint string) string {
	if hint == "" {
		return msg
	}
	return msg + " (" + hint + ")"
}

// --- helpers ------------------------------------------------------------

func fromNix(e nix.Error) Problem { return e }

// processError is the one line a failed process left: its last stderr line
// that is not a nix log record, else the error itself.
func processError(res *execx.Result, err error) string {
	if res != nil {
		lines := strings.Split(strings.TrimSpace(nix.StripANSI(string(res.Stderr))), "\n")
		for i := len(lines) - 1; i >= 0; i-- {
			if l := strings.TrimSpace(lines[i]); l != "" && !strings.HasPrefix(l, "@nix ") {
				return strings.TrimPrefix(l, "error: ")
			}
		}
	}
	return err.Error()
}
