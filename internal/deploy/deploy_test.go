package deploy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nixctl/nixctl/internal/execx"
	"github.com/nixctl/nixctl/internal/fault"
	"github.com/nixctl/nixctl/internal/inventory"
	"github.com/nixctl/nixctl/internal/nix"
	"github.com/nixctl/nixctl/internal/remote"
	"github.com/nixctl/nixctl/internal/testutil"
)

const threeHosts = `
defaults: {parallel: 3}
hosts:
  - {name: a, address: 10.0.0.1}
  - {name: b, address: 10.0.0.2, port: 2222, sshOptions: ["-o", "ConnectTimeout=5"]}
  - {name: c, address: 10.0.0.3, user: deploy, sudo: true, identity: keys/id_c}
`

type run struct {
	fleet *inventory.Fleet
	net   fakeNet
	rec   *execx.Recorder
	ev    *events
	opts  Options
	// evaluates is what nixos-rebuild --flake finds in the flake when it
	// evaluates it again (nil: what the build built).
	evaluates func(name string) string
}

func newRun(t *testing.T, yaml string) *run {
	f := fakeFleet(t, yaml)
	n := fakeNet{}
	for _, h := range f.Hosts {
		n[h.Address] = &fakeHost{generation: 7}
	}
	return &run{fleet: f, net: n, rec: &execx.Recorder{}, ev: &events{},
		opts: Options{Action: "switch", NoCheck: true, Flavour: nix.FlavourBash, HealthInterval: time.Millisecond}}
}

func (r *run) host(name string) *fakeHost {
	h, _ := r.fleet.Host(name)
	return r.net[h.Address]
}

func (r *run) exec(t *testing.T, ctx context.Context) *Report {
	t.Helper()
	p, err := NewPlan(r.fleet, r.fleet.Hosts, r.opts, routesIn(t, t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	return Run(ctx, Env{Runner: activating{r.rec, r.net, r.evaluates}, Hosts: r.net, Events: r.ev, Fleet: r.fleet, RunID: "run-1", Who: "alice@laptop", GitRev: "abc123"}, p)
}

func result(t *testing.T, rep *Report, host string) HostResult {
	t.Helper()
	for _, h := range rep.Hosts {
		if h.Host == host {
			return h
		}
	}
	t.Fatalf("no result for %s", host)
	return HostResult{}
}

func TestDeployAllOK(t *testing.T) {
	t.Parallel()
	r := newRun(t, threeHosts)
	buildStub(r.rec)
	r.rec.Register([]string{"nixos-rebuild", "switch"}, "", 0)
	rep := r.exec(t, context.Background())
	r.rec.Verify(t)
	if kind := rep.Kind(); kind != fault.OK {
		t.Fatalf("kind %v: %+v", kind, rep.Hosts)
	}
	// --no-check: ONE evaluation of the three hosts (so nixctl knows which
	// built system is whose), ONE build of their derivations, then three
	// activations.
	argvs := r.rec.Argvs()
	if len(argvs) != 6 || !strings.HasPrefix(argvs[0], "nix eval --json --apply") || strings.Count(argvs[0], "(one ") != 3 ||
		!strings.HasPrefix(argvs[2], "nix build --no-link --json") || strings.Count(argvs[2], "-nixos-system-") != 3 || strings.Contains(argvs[2], "#") {
		t.Fatalf("want ONE evaluation and ONE nix build of the three toplevels, then three activations: %q", argvs)
	}
	for _, c := range r.rec.Calls()[3:] {
		h, _ := r.fleet.Host(hostOf(c.Cmd.Argv))
		want := map[string]string{
			"a": "NIX_SSHOPTS=",
			"b": "NIX_SSHOPTS=-o ConnectTimeout=5 -p 2222",
			"c": "NIX_SSHOPTS=-i /fleet/keys/id_c",
		}[h.Name]
		if !slices.Equal(c.Cmd.Env, []string{want}) {
			t.Errorf("%s: env %q, want %q", h.Name, c.Cmd.Env, want)
		}
		if h.Name == "c" && !slices.Contains(c.Cmd.Argv, "--use-remote-sudo") {
			t.Errorf("c deploys as a sudo user: %q", c.Cmd.Argv)
		}
	}
	for _, name := range []string{"a", "b", "c"} {
		res := result(t, rep, name)
		if res.Result != ResultOK || res.Stage != StageDone || res.Generation != 7 {
			t.Errorf("%s: %+v", name, res)
		}
		h := r.host(name)
		if h.locked() {
			t.Errorf("%s: lock not released", name)
		}
		if rec := h.record(t); rec.Result != ResultOK || rec.Who != "alice@laptop" || rec.GitRev != "abc123" || rec.RunID != "run-1" {
			t.Errorf("%s: last-deploy record %+v", name, rec)
		}
		if got := r.ev.of(name); !slices.Equal(got, []string{StagePreflight, StageLock, StageBuild, StageActivate, StageConfirm, StageVerify, StageHealth}) {
			t.Errorf("%s: stages %v", name, got)
		}
		// Magic rollback: armed on the deploy's connection before the
		// activation, confirmed over a new one after it.
		ops := strings.Join(h.ran(), "\n")
		if !strings.Contains(ops, "arm switch 7 30s\n") || !regexp.MustCompile(`confirm on connection [2-9]`).MatchString(ops) || h.armed != nil {
			t.Errorf("%s: magic rollback not armed and confirmed: %s", name, ops)
		}
	}
	// c is not root: every remote state change goes through sudo -n; a is
	// root and needs none.
	if got := r.host("c").ran(); !slices.Contains(got, "sudo acquire") || !slices.Contains(got, "sudo release") {
		t.Errorf("c: lock operations without sudo: %q", got)
	}
	if got := r.host("a").ran(); !slices.Contains(got, "acquire") || !slices.Contains(got, "release") {
		t.Errorf("a: lock operations: %q", got)
	}
}

func TestPartialFailure(t *testing.T) {
	t.Parallel()
	r := newRun(t, threeHosts)
	buildStub(r.rec)
	r.rec.RegisterStub(&execx.Stub{Prefix: []string{"nixos-rebuild", "switch"}, Func: func(c execx.Cmd) (string, int) {
		if hostOf(c.Argv) == "b" {
			return "", 1
		}
		return "", 0
	}})
	rep := r.exec(t, context.Background())
	if kind := rep.Kind(); kind != fault.Partial {
		t.Fatalf("kind %v, want %v (partial)", kind, fault.Partial)
	}
	if b := result(t, rep, "b"); b.Result != ResultFailed || b.Stage != StageActivate || !strings.Contains(b.Error, "nixos-rebuild switch exited with code 1") {
		t.Errorf("b: %+v", b)
	}
	for _, n := range []string{"a", "c"} {
		if res := result(t, rep, n); !res.OK() {
			t.Errorf("%s should finish despite b: %+v", n, res)
		}
	}
	if r.host("b").locked() || r.host("b").record(t).Result != ResultFailed {
		t.Error("b's lock must be released with the failure recorded")
	}
}

func TestAllFailedAndPreflight(t *testing.T) {
	t.Parallel()
	r := newRun(t, threeHosts)
	r.host("a").noNix = true
	r.host("b").sshDown = true
	r.host("c").lock = `{"runId":"other","who":"bob@desk","started":"2026-11-25T20:00:00Z","action":"switch","gitRev":"def"}`
	rep := r.exec(t, context.Background())
	r.rec.Verify(t)
	if kind := rep.Kind(); kind != fault.AllFailed {
		t.Fatalf("kind %v, want %v", kind, fault.AllFailed)
	}
	if len(r.rec.Calls()) != 0 {
		t.Errorf("nothing may build or activate when every preflight fails: %q", r.rec.Argvs())
	}
	a, b, c := result(t, rep, "a"), result(t, rep, "b"), result(t, rep, "c")
	if a.Stage != StagePreflight || !strings.HasPrefix(a.Error, "nix is not on the PATH") || a.Hint == "" {
		t.Errorf("a: %+v", a)
	}
	if b.Stage != StagePreflight || !strings.Contains(b.Error, "connection refused") || !strings.Contains(b.Hint, "port 2222") {
		t.Errorf("b: %+v", b)
	}
	if c.Stage != StageLock || !strings.Contains(c.Error, "locked by bob@desk") || !strings.Contains(c.Error, "rev def") || !strings.Contains(c.Hint, "--break-lock") {
		t.Errorf("c: %+v", c)
	}
	if !strings.Contains(r.host("c").lock, "bob@desk") {
		t.Error("another run's lock must stay")
	}

	// --break-lock takes it over.
	r2 := newRun(t, threeHosts)
	buildStub(r2.rec)
	r2.rec.Register([]string{"nixos-rebuild"}, "", 0)
	r2.host("c").lock = `{"runId":"other","who":"bob@desk"}`
	r2.opts.BreakLock = true
	if rep := r2.exec(t, context.Background()); rep.Kind() != fault.OK {
		t.Fatalf("with --break-lock: %+v", rep.Hosts)
	}
}

const healthHost = `
hosts:
  - name: web
    address: 10.0.0.5
    health:
      - command: "systemctl is-active app"
        timeout: 50ms
`

func TestHealthFailureRollsBack(t *testing.T) {
	t.Parallel()
	r := newRun(t, healthHost)
	buildStub(r.rec)
	var rolledBack atomic.Bool
	r.host("web").healthFails = func() bool { return !rolledBack.Load() }
	r.rec.Register([]string{"nixos-rebuild", "switch", "--flake"}, "", 0)
	r.rec.RegisterStub(&execx.Stub{Prefix: []string{"nixos-rebuild", "switch", "--rollback"}, Func: func(execx.Cmd) (string, int) {
		rolledBack.Store(true)
		return "", 0
	}})
	rep := r.exec(t, context.Background())
	r.rec.Verify(t)
	web := result(t, rep, "web")
	// The report names the host in front of the error: the error does not.
	if web.Result != ResultRolledBack || !strings.HasPrefix(web.Error, "health check command systemctl is-active app failed") {
		t.Fatalf("web: %+v", web)
	}
	if kind := rep.Kind(); kind != fault.RolledBack {
		t.Errorf("kind %v, want %v (rolled back)", kind, fault.RolledBack)
	}
	if got := r.ev.of("web"); !slices.Equal(got[len(got)-3:], []string{StageHealth, StageRollback, StageHealth}) {
		t.Errorf("stages %v: want health, rollback, health again", got)
	}
	if rec := r.host("web").record(t); rec.Result != ResultRolledBack {
		t.Errorf("record %+v", rec)
	}
}

func TestRollbackFailureIsLoud(t *testing.T) {
	t.Parallel()
	r := newRun(t, healthHost)
	buildStub(r.rec)
	r.host("web").healthFails = func() bool { return true }
	r.rec.Register([]string{"nixos-rebuild", "switch", "--flake"}, "", 0)
	r.rec.Register([]string{"nixos-rebuild", "switch", "--rollback"}, "", 0)
	rep := r.exec(t, context.Background())
	web := result(t, rep, "web")
	if web.Result != ResultRollbackFailed || !strings.Contains(web.Error, "still unhealthy after the rollback") {
		t.Fatalf("web: %+v", web)
	}
	if kind := rep.Kind(); kind != fault.AllFailed {
		t.Errorf("kind %v, want %v", kind, fault.AllFailed)
	}
}

func TestTestActionReactivatesProfile(t *testing.T) {
	t.Parallel()
	r := newRun(t, healthHost)
	r.opts.Action = "test"
	buildStub(r.rec)
	var reactivated atomic.Bool
	r.host("web").healthFails = func() bool {
		if slices.Contains(r.host("web").ran(), "reactivate") {
			reactivated.Store(true)
		}
		return !reactivated.Load()
	}
	r.rec.Register([]string{"nixos-rebuild", "test"}, "", 0)
	rep := r.exec(t, context.Background())
	r.rec.Verify(t)
	if web := result(t, rep, "web"); web.Result != ResultRolledBack || !reactivated.Load() {
		t.Fatalf("web: %+v (reactivated %v)", web, reactivated.Load())
	}
}

func TestNoHealthForBootAndDryActivate(t *testing.T) {
	t.Parallel()
	for _, action := range []string{"boot", "dry-activate"} {
		r := newRun(t, healthHost)
		r.opts.Action = action
		r.host("web").healthFails = func() bool { return true }
		buildStub(r.rec)
		r.rec.Register([]string{"nixos-rebuild", action}, "", 0)
		rep := r.exec(t, context.Background())
		r.rec.Verify(t)
		if rep.Kind() != fault.OK || slices.Contains(r.ev.of("web"), StageHealth) {
			t.Errorf("%s: no health stage expected: %+v %v", action, rep.Hosts, r.ev.of("web"))
		}
	}
}

func TestFailFastCancelsTheOthers(t *testing.T) {
	t.Parallel()
	r := newRun(t, threeHosts)
	r.opts.Parallel = 1
	r.opts.FailFast = true
	buildStub(r.rec)
	r.rec.Register([]string{"nixos-rebuild", "switch"}, "", 1)
	rep := r.exec(t, context.Background())
	if a := result(t, rep, "a"); a.Result != ResultFailed {
		t.Errorf("a: %+v", a)
	}
	for _, n := range []string{"b", "c"} {
		if res := result(t, rep, n); res.Result != ResultCancelled || res.Error != "not started: another host failed and --fail-fast stopped the run" {
			t.Errorf("%s: %+v, want cancelled, saying why in words", n, res)
		}
	}
	if n := strings.Count(strings.Join(r.rec.Argvs(), "\n"), "nixos-rebuild"); n != 1 {
		t.Errorf("%d activations after the first failure, want none", n-1)
	}
	for _, n := range []string{"a", "b", "c"} {
		if r.host(n).locked() {
			t.Errorf("%s: lock left behind", n)
		}
	}
}

func TestParallelActivationsOverlap(t *testing.T) {
	t.Parallel()
	yaml := "hosts:\n"
	for _, n := range []string{"h1", "h2", "h3", "h4", "h5", "h6"} {
		yaml += "  - {name: " + n + ", address: " + n + ".example}\n"
	}
	for _, parallel := range []int{1, 3} {
		r := newRun(t, yaml)
		r.opts.Parallel = parallel
		buildStub(r.rec)
		// The first activations wait until --parallel of them run at once,
		// so the overlap does not depend on timing.
		var mu sync.Mutex
		cond := sync.NewCond(&mu)
		active, peak := 0, 0
		r.rec.RegisterStub(&execx.Stub{Prefix: []string{"nixos-rebuild"}, Func: func(execx.Cmd) (string, int) {
			mu.Lock()
			active++
			peak = max(peak, active)
			cond.Broadcast()
			for peak < parallel {
				cond.Wait()
			}
			active--
			mu.Unlock()
			return "", 0
		}})
		if rep := r.exec(t, context.Background()); rep.Kind() != fault.OK {
			t.Fatalf("%+v", rep.Hosts)
		}
		var calls []execx.Call
		for _, c := range r.rec.Calls() {
			if c.Cmd.Argv[0] == "nixos-rebuild" {
				calls = append(calls, c)
			}
		}
		if got := maxOverlap(calls); got != parallel {
			t.Errorf("--parallel %d: %d activations ran at once", parallel, got)
		}
	}
}

// maxOverlap is the most calls running at one instant, from their recorded
// start and end times.
func maxOverlap(calls []execx.Call) int {
	best := 0
	for _, c := range calls {
		n := 0
		for _, d := range calls {
			if !d.Start.After(c.Start) && d.End.After(c.Start) {
				n++
			}
		}
		best = max(best, n)
	}
	return best
}

func TestInterruptReleasesLocks(t *testing.T) {
	t.Parallel()
	r := newRun(t, threeHosts)
	buildStub(r.rec)
	ctx, cancel := context.WithCancel(context.Background())
	release := make(chan struct{})
	var started sync.WaitGroup
	started.Add(3)
	r.rec.RegisterStub(&execx.Stub{Prefix: []string{"nixos-rebuild"}, Func: func(execx.Cmd) (string, int) {
		started.Done()
		<-release
		return "", 0
	}})
	go func() {
		started.Wait()
		cancel()
		close(release)
	}()
	rep := r.exec(t, ctx)
	if !rep.Interrupted || rep.Kind() != fault.Interrupted {
		t.Fatalf("want an interrupted run, got %+v", rep)
	}
	for _, n := range []string{"a", "b", "c"} {
		res := result(t, rep, n)
		if res.Result != ResultInterrupted || res.Stage != StageActivate || strings.Contains(res.Error, "context canceled") || !strings.Contains(res.Error, "the run was interrupted") {
			t.Errorf("%s: %+v", n, res)
		}
		if r.host(n).locked() {
			t.Errorf("%s: lock left behind after the interrupt", n)
		}
	}
}

func TestBuildFailureIsAttributed(t *testing.T) {
	t.Parallel()
	r := newRun(t, threeHosts)
	r.rec.RegisterStub(&execx.Stub{Prefix: []string{"nix", "build"}, Func: func(c execx.Cmd) (string, int) {
		if strings.Contains(strings.Join(c.Argv, " "), "#nixosConfigurations.b.") {
			return "", 1
		}
		drv, out := systemOf(builtNameRe.FindStringSubmatch(c.Argv[len(c.Argv)-1])[1])
		return fmt.Sprintf(`[{"drvPath":%q,"outputs":{"out":%q}}]`, drv, out), 0
	}})
	r.rec.Register([]string{"nixos-rebuild"}, "", 0)
	rep := r.exec(t, context.Background())
	if b := result(t, rep, "b"); b.Result != ResultFailed || b.Stage != StageBuild {
		t.Errorf("b: %+v", b)
	}
	if a := result(t, rep, "a"); !a.OK() {
		t.Errorf("a: %+v", a)
	}
	if builds := strings.Count(strings.Join(r.rec.Argvs(), "\n"), "nix build"); builds != 4 {
		t.Errorf("%d builds: want the shared one, then one per host to find the failing one", builds)
	}
	if kind := rep.Kind(); kind != fault.Partial {
		t.Errorf("kind %v", kind)
	}

	// When every host fails to build, the outcome says build.
	r = newRun(t, threeHosts)
	r.rec.Register([]string{"nix", "build"}, "", 1)
	if kind := r.exec(t, context.Background()).Kind(); kind != fault.Build {
		t.Errorf("kind %v, want %v", kind, fault.Build)
	}
}

// checkedRun is a run with the check stage on, where host b fails it.
func checkedRun(t *testing.T) *run {
	r := newRun(t, threeHosts)
	r.opts.NoCheck = false
	r.rec.RegisterStub(testutil.EvalStub(map[string]testutil.EvalAnswer{
		"a": {DrvPath: "/nix/store/aaaa-nixos-system-a.drv"},
		"b": {Failed: true},
		"c": {DrvPath: "/nix/store/cccc-nixos-system-c.drv"},
	}))
	r.rec.RegisterStub(&execx.Stub{Prefix: []string{"nix", "eval", "--raw", "/fleet#nixosConfigurations.b.config.system.build.toplevel.drvPath"},
		Stderr: `@nix {"action":"msg","level":0,"msg":"error: boom","raw_msg":"boom"}`, ExitCode: 1})
	r.rec.Register([]string{"nix", "--version"}, "nix (Nix) 2.8.0\n", 0)
	r.rec.Register([]string{"nix", "build", "--no-link", "--json"}, `[{"drvPath":"/nix/store/aaaa-nixos-system-a.drv","outputs":{"out":"/nix/store/aaaa-nixos-system-a"}},{"drvPath":"/nix/store/cccc-nixos-system-c.drv","outputs":{"out":"/nix/store/cccc-nixos-system-c"}}]`, 0)
	r.rec.Register([]string{"nixos-rebuild"}, "", 0)
	r.evaluates = func(name string) string { return "/nix/store/" + strings.Repeat(name, 4) + "-nixos-system-" + name }
	return r
}

func TestCheckStageStopsFailingHosts(t *testing.T) {
	t.Parallel()
	r := checkedRun(t)
	rep := r.exec(t, context.Background())
	r.rec.Verify(t)
	if b := result(t, rep, "b"); b.Stage != StageCheck || b.Result != ResultFailed || !strings.Contains(b.Error, "boom") {
		t.Errorf("b: %+v", b)
	}
	if a := result(t, rep, "a"); !a.OK() || a.DrvPath != "/nix/store/aaaa-nixos-system-a.drv" || a.StorePath != "/nix/store/aaaa-nixos-system-a" {
		t.Errorf("a: %+v", a)
	}
	// Each host is evaluated once: the build builds the derivations the
	// check found, and nix flake check is not run.
	var evals, builds int
	for _, argv := range r.rec.Argvs() {
		switch {
		case strings.HasPrefix(argv, "nix flake check"):
			t.Errorf("deploy ran %s", argv)
		case strings.HasPrefix(argv, "nix eval"):
			evals++
		case strings.HasPrefix(argv, "nix build"):
			builds++
			if !strings.HasSuffix(argv, " /nix/store/aaaa-nixos-system-a.drv /nix/store/cccc-nixos-system-c.drv") || strings.Contains(argv, "#") {
				t.Errorf("the build must build the evaluated derivations: %s", argv)
			}
		}
	}
	if evals != 2 || builds != 1 {
		t.Errorf("%d evaluations (want one for all, one for the failing host alone), %d builds", evals, builds)
	}
	if len(r.host("b").ran()) != 0 {
		t.Error("a host that failed the check is never contacted")
	}
}

func TestTimeoutStopsAHangingActivation(t *testing.T) {
	t.Parallel()
	r := newRun(t, healthHost)
	r.opts.Timeout = 20 * time.Millisecond
	r.opts.Action = "boot"
	buildStub(r.rec)
	r.rec.RegisterStub(&execx.Stub{Prefix: []string{"nixos-rebuild"}, Func: func(execx.Cmd) (string, int) {
		time.Sleep(100 * time.Millisecond)
		return "", 0
	}})
	rep := r.exec(t, context.Background())
	if web := result(t, rep, "web"); web.Result != ResultFailed || !strings.Contains(web.Error, "timed out after 20ms") {
		t.Errorf("web: %+v", web)
	}
}

func TestPlan(t *testing.T) {
	t.Parallel()
	f := fakeFleet(t, `
defaults: {identity: ~/.ssh/deploy}
hosts:
  - {name: builder, address: 10.0.0.9, user: nix}
  - {name: web, address: 10.0.0.1, buildHost: builder, rebuild: ng, sudo: true}
  - {name: db, address: 10.0.0.2, buildHost: "ops@10.0.0.8", user: ops, sudo: true}
`)
	routes := routesIn(t, "/home/al")
	p, err := NewPlan(f, f.Hosts[1:], Options{Action: "switch", Flavour: nix.FlavourBash}, routes)
	if err != nil {
		t.Fatal(err)
	}
	if p.Build != nil {
		t.Errorf("no local build when every host has a build host: %v", p.Build.Argv)
	}
	web, db := p.Hosts[0], p.Hosts[1]
	if got := strings.Join(web.Activate.Argv, " "); got != "nixos-rebuild switch --flake /fleet#web --target-host root@10.0.0.1 --build-host nix@10.0.0.9 --sudo" {
		t.Errorf("web: %s", got)
	}
	if got := strings.Join(db.Activate.Argv, " "); got != "nixos-rebuild switch --flake /fleet#db --target-host ops@10.0.0.2 --build-host ops@10.0.0.8 --use-remote-sudo" {
		t.Errorf("db: %s", got)
	}
	// web and its build host share one NIX_SSHOPTS: the identity both use
	// is said once.
	if want := "NIX_SSHOPTS=-i /home/al/.ssh/deploy"; web.Activate.Env[0] != want {
		t.Errorf("web env %q, want %q", web.Activate.Env[0], want)
	}
	// The home is the user's own: ssh reads the same known_hosts by itself.
	if want := "NIX_SSHOPTS=-i /home/al/.ssh/deploy"; db.Activate.Env[0] != want {
		t.Errorf("env %q, want %q", db.Activate.Env[0], want)
	}
	if got := strings.Join(db.RollbackCmd.Argv, " "); got != "nixos-rebuild switch --rollback --flake /fleet#db --target-host ops@10.0.0.2 --use-remote-sudo" {
		t.Errorf("rollback: %s", got)
	}

	// --build-host overrides; rollback --to N switches that generation over SSH.
	p, _ = NewPlan(f, f.Hosts[2:], Options{Rollback: true, RollbackTo: 41, BuildHost: "x@y"}, routes)
	if h := p.Hosts[0]; len(h.Activate.Argv) != 0 || h.RollbackRemote == nil || h.RollbackRemote.Generation != 41 {
		t.Errorf("rollback --to: %+v", h)
	} else if cmd := h.RollbackRemote.command(h.Elevate); !strings.HasPrefix(cmd, "sudo -n sh -c ") || cmd != `sudo -n sh -c "<system-switch-generation.sh>" nixctl-system-switch-generation / 41` {
		t.Errorf("rollback --to runs %s", cmd)
	}

	// A path NIX_SSHOPTS cannot carry is refused with a hint.
	spaced := fakeFleet(t, "hosts:\n  - {name: web, address: 10.0.0.1, identity: \"/my files/id\"}\n")
	_, err = NewPlan(spaced, spaced.Hosts, Options{}, routes)
	var pe *PlanError
	if !errors.As(err, &pe) || pe.Hint() == "" {
		t.Errorf("want a plan error, got %v", err)
	}
}

func TestHealthTCPAndHTTP(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1) < 3 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	closedAddr := closed.Addr().String()
	closed.Close()
	open := strings.TrimPrefix(srv.URL, "http://")

	h := HostPlan{Host: inventory.Host{Name: "web", Address: "10.0.0.1"}, Route: remote.Route{Name: "10.0.0.1", HostName: "10.0.0.1", Port: 22, User: "root"}}
	net := fakeNet{"10.0.0.1": &fakeHost{}}
	hc := newHealthChecker(net, nil, time.Millisecond)

	h.Host.Health = []inventory.Health{{TCP: open}, {HTTP: srv.URL, ExpectStatus: 200, Timeout: 5 * time.Second}}
	if err := hc.run(context.Background(), h); err != nil {
		t.Fatalf("the server turns healthy on the third request: %v", err)
	}
	if hits.Load() != 3 {
		t.Errorf("%d requests, want 3 (retried until healthy)", hits.Load())
	}

	h.Host.Health = []inventory.Health{{TCP: closedAddr, Timeout: 20 * time.Millisecond}}
	var he *HealthError
	if err := hc.run(context.Background(), h); !errors.As(err, &he) || !strings.Contains(err.Error(), "tcp "+closedAddr) {
		t.Errorf("closed port: %v", err)
	}
	h.Host.Health = []inventory.Health{{HTTP: srv.URL, ExpectStatus: 204, Timeout: 20 * time.Millisecond}}
	if err := hc.run(context.Background(), h); err == nil || !strings.Contains(err.Error(), "status 200, want 204") {
		t.Errorf("wrong status: %v", err)
	}
}

func TestExitCodes(t *testing.T) {
	t.Parallel()
	rep := func(results ...string) *Report {
		r := &Report{}
		for _, s := range results {
			stage := StageActivate
			if s == "check" || s == "build" {
				stage, s = s, ResultFailed
			}
			r.Hosts = append(r.Hosts, HostResult{Result: s, Stage: stage})
		}
		return r
	}
	for _, c := range []struct {
		r    *Report
		want fault.Kind
	}{
		{rep(ResultOK, ResultOK), fault.OK},
		{rep(ResultOK, ResultFailed), fault.Partial},
		{rep(ResultOK, ResultRolledBack), fault.RolledBack},
		{rep(ResultRolledBack, ResultFailed), fault.Partial},
		{rep(ResultFailed, ResultRollbackFailed), fault.AllFailed},
		{rep("check", "check"), fault.Check},
		{rep("build", "build"), fault.Build},
		{rep("build", "check"), fault.AllFailed},
		{&Report{Interrupted: true, Hosts: []HostResult{{Result: ResultOK}}}, fault.Interrupted},
	} {
		if got := c.r.Kind(); got != c.want {
			t.Errorf("%+v: kind %v, want %v", c.r.Hosts, got, c.want)
		}
	}
}

func TestLockReleasedOverANewConnection(t *testing.T) {
	t.Parallel()
	r := newRun(t, healthHost)
	buildStub(r.rec)
	r.rec.Register([]string{"nixos-rebuild", "switch"}, "", 0)
	// The deploy's session answers the preflight, the lock, the status and
	// the watchdog's arming, then drops with the activation.
	r.host("web").dropAfter = 4
	rep := r.exec(t, context.Background())
	if web := result(t, rep, "web"); !web.OK() {
		t.Fatalf("web: %+v", web)
	}
	if r.host("web").locked() {
		t.Error("the lock must be released over a new connection")
	}
}

// A health check that --timeout ends says how long it ran, not its own
// (longer) timeout.
func TestHealthEndedByTimeoutSaysHowLongItRan(t *testing.T) {
	t.Parallel()
	r := newRun(t, "hosts:\n  - {name: web, address: 10.0.0.5, health: [{command: \"systemctl is-active app\"}]}\n")
	r.opts.Timeout = 300 * time.Millisecond
	buildStub(r.rec)
	r.host("web").healthFails = func() bool { return true }
	r.rec.Register([]string{"nixos-rebuild", "switch", "--flake"}, "", 0)
	r.rec.Register([]string{"nixos-rebuild", "switch", "--rollback"}, "", 0)
	web := result(t, r.exec(t, context.Background()), "web")
	if !regexp.MustCompile(`^health check command systemctl is-active app failed: stopped by --timeout after (2|3)\d\dms, still failing: unhealthy`).MatchString(web.Error) {
		t.Errorf("web: %q", web.Error)
	}
	if strings.Contains(web.Error, DefaultHealthTimeout.String()) || strings.Contains(web.Error, "deadline") {
		t.Errorf("the message names a time the check never ran, or Go's words: %q", web.Error)
	}
}
