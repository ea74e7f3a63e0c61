package deploy

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/nixctl/nixctl/internal/execx"
	"github.com/nixctl/nixctl/internal/fault"
	"github.com/nixctl/nixctl/internal/hostops"
	"github.com/nixctl/nixctl/internal/inventory"
	"github.com/nixctl/nixctl/internal/nix"
)

// edited is a flake that evaluates to something else by the time
// nixos-rebuild evaluates it again.
func edited(name string) string {
	_, out := systemOf(name + "-edited")
	return out
}

// With a nixos-rebuild that evaluates the flake again, a host that ends up
// running another system than the one built is rolled back like a failed
// health check, with both paths in the error.
func TestActivatedSystemDiffersFromBuilt(t *testing.T) {
	t.Parallel()
	r := newRun(t, healthHost)
	buildStub(r.rec)
	r.evaluates = edited
	r.rec.Register([]string{"nixos-rebuild", "switch", "--flake"}, "", 0)
	rb := r.rec.Register([]string{"nixos-rebuild", "switch", "--rollback"}, "", 0)
	rep := r.exec(t, context.Background())
	r.rec.Verify(t)
	web := result(t, rep, "web")
	_, built := systemOf("web")
	if web.Result != ResultRolledBack || !strings.Contains(web.Error, "/run/current-system is "+edited("web")) || !strings.Contains(web.Error, "built "+built) {
		t.Fatalf("web: %+v", web)
	}
	if !strings.Contains(web.Hint, "--store-path") {
		t.Errorf("hint %q", web.Hint)
	}
	if rep.Kind() != fault.RolledBack {
		t.Errorf("kind %v, want %v", rep.Kind(), fault.RolledBack)
	}
	if rb == nil || !slices.Contains(r.rec.Argvs(), "nixos-rebuild switch --rollback --flake /fleet#web --target-host root@10.0.0.5") {
		t.Errorf("no rollback: %q", r.rec.Argvs())
	}
	// Health is not even tried on a system nixctl did not check.
	if got := r.ev.of("web"); !slices.Equal(got[slices.Index(got, StageActivate):], []string{StageActivate, StageConfirm, StageVerify, StageRollback, StageHealth}) {
		t.Errorf("stages %v: want activate, confirm, verify, then the rollback and its health check", got)
	}
	if rec := r.host("web").record(t); rec.Result != ResultRolledBack {
		t.Errorf("record %+v", rec)
	}
}

// test is undone by activating the system profile again; boot compares the
// profile (what the host boots next) and is undone by nixos-rebuild boot
// --rollback, without health checks.
func TestActivatedSystemDiffersAfterTestAndBoot(t *testing.T) {
	t.Parallel()
	r := newRun(t, healthHost)
	r.opts.Action = "test"
	buildStub(r.rec)
	r.evaluates = edited
	r.rec.Register([]string{"nixos-rebuild", "test"}, "", 0)
	rep := r.exec(t, context.Background())
	r.rec.Verify(t)
	if web := result(t, rep, "web"); web.Result != ResultRolledBack || !slices.Contains(r.host("web").ran(), "reactivate") {
		t.Fatalf("test: %+v %v", web, r.host("web").ran())
	}

	r = newRun(t, healthHost)
	r.opts.Action = "boot"
	buildStub(r.rec)
	r.evaluates = edited
	r.rec.Register([]string{"nixos-rebuild", "boot", "--flake"}, "", 0)
	r.rec.Register([]string{"nixos-rebuild", "boot", "--rollback", "--flake", "/fleet#web"}, "", 0)
	rep = r.exec(t, context.Background())
	r.rec.Verify(t)
	web := result(t, rep, "web")
	if web.Result != ResultRolledBack || !strings.Contains(web.Error, "the system profile is "+edited("web")) || slices.Contains(r.ev.of("web"), StageHealth) {
		t.Fatalf("boot: %+v %v", web, r.ev.of("web"))
	}

	// The same boot of what was built passes.
	r = newRun(t, healthHost)
	r.opts.Action = "boot"
	buildStub(r.rec)
	r.rec.Register([]string{"nixos-rebuild", "boot", "--flake"}, "", 0)
	if rep := r.exec(t, context.Background()); rep.Kind() != fault.OK {
		t.Fatalf("boot of the built system: %+v", rep.Hosts)
	}
}

// A nixos-rebuild with --store-path activates exactly the built system:
// no --flake, so no second evaluation, and nothing to compare afterwards.
// A host whose inventory says rebuild: bash keeps --flake and the check.
func TestStorePathActivatesTheBuiltSystem(t *testing.T) {
	t.Parallel()
	r := newRun(t, threeHosts+"  - {name: d, address: 10.0.0.4, rebuild: bash}\n")
	r.opts.Flavour, r.opts.StorePath = nix.FlavourNG, true
	r.opts.NoMagicRollback = true
	buildStub(r.rec)
	r.evaluates = edited // what a --flake activation would find now
	r.rec.Register([]string{"nixos-rebuild", "switch", "--store-path"}, "", 0)
	r.rec.Register([]string{"nixos-rebuild", "switch", "--flake", "/fleet#d"}, "", 0)
	r.rec.Register([]string{"nixos-rebuild", "switch", "--rollback", "--flake", "/fleet#d"}, "", 0)
	rep := r.exec(t, context.Background())
	r.rec.Verify(t)
	for _, name := range []string{"a", "b", "c"} {
		h := result(t, rep, name)
		_, built := systemOf(name)
		if !h.OK() || h.StorePath != built {
			t.Errorf("%s: %+v", name, h)
		}
		if cur := r.host(name).current; cur != built {
			t.Errorf("%s runs %s, want the built %s", name, cur, built)
		}
		if ops := r.host(name).ran(); slices.Contains(ops, "status") {
			t.Errorf("%s: nothing to compare after a --store-path activation: %v", name, ops)
		}
	}
	want := map[string]bool{}
	for _, argv := range r.rec.Argvs() {
		if strings.HasPrefix(argv, "nixos-rebuild switch --store-path") {
			want[argv] = true
		}
	}
	_, c := systemOf("c")
	if !want["nixos-rebuild switch --store-path "+c+" --target-host deploy@10.0.0.3 --sudo"] || len(want) != 3 {
		t.Errorf("activations %q", r.rec.Argvs())
	}
	if d := result(t, rep, "d"); d.Result != ResultRolledBack || !strings.Contains(d.Error, edited("d")) {
		t.Errorf("d (rebuild: bash): %+v", d)
	}
	// --no-check: the four hosts are evaluated once, in one process,
	// before the one build of their derivations.
	var evals, builds int
	for _, argv := range r.rec.Argvs() {
		switch {
		case strings.HasPrefix(argv, "nix eval"):
			evals++
			if strings.Count(argv, "(one ") != 4 {
				t.Errorf("one evaluation of the four hosts: %s", argv)
			}
		case strings.HasPrefix(argv, "nix build"):
			builds++
			if strings.Contains(argv, "#") {
				t.Errorf("the build must build the evaluated derivations: %s", argv)
			}
		}
	}
	if evals != 1 || builds != 1 {
		t.Errorf("%d evaluations, %d builds: want one of each", evals, builds)
	}
}

// dry-activate gets the built system too, alone or in the diff stage.
func TestStorePathDryActivate(t *testing.T) {
	t.Parallel()
	r := newRun(t, healthHost)
	r.opts.Flavour, r.opts.StorePath, r.opts.Action = nix.FlavourNG, true, "dry-activate"
	buildStub(r.rec)
	r.rec.Register([]string{"nixos-rebuild", "dry-activate", "--store-path"}, "", 0)
	rep := r.exec(t, context.Background())
	r.rec.Verify(t)
	_, built := systemOf("web")
	if rep.Kind() != fault.OK || !slices.Contains(r.rec.Argvs(), "nixos-rebuild dry-activate --store-path "+built+" --target-host root@10.0.0.5") {
		t.Errorf("calls %q: %+v", r.rec.Argvs(), rep.Hosts)
	}

	f := fakeFleet(t, healthHost)
	p, err := NewPlan(f, f.Hosts, Options{Action: "switch", Flavour: nix.FlavourNG, StorePath: true, Diff: true}, routesIn(t, t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	hp := p.Hosts[0]
	if got := strings.Join(hp.withStorePath(*hp.DryActivate, built).Argv, " "); got != "nixos-rebuild dry-activate --store-path "+built+" --target-host root@10.0.0.5" {
		t.Errorf("diff stage's dry-activate: %s", got)
	}
}

// A host whose built system the build did not name is not activated.
func TestUnattributedBuildIsNotActivated(t *testing.T) {
	t.Parallel()
	r := newRun(t, threeHosts)
	r.rec.Register([]string{"nix", "build"}, `[{"drvPath":"/nix/store/x.drv","outputs":{"out":"/nix/store/x"}}]`, 0)
	rep := r.exec(t, context.Background())
	for _, h := range rep.Hosts {
		if h.Stage != StageBuild || !strings.Contains(h.Error, "did not say which of the systems it built is "+h.Host+"'s") {
			t.Errorf("%s: %+v", h.Host, h)
		}
	}
	if rep.Kind() != fault.Build {
		t.Errorf("kind %v", rep.Kind())
	}
	for _, argv := range r.rec.Argvs() {
		if strings.HasPrefix(argv, "nixos-rebuild") {
			t.Errorf("activated: %s", argv)
		}
	}
}

// dryRun runs the executor as --dry-run does: over the dry-run runner (the
// recorder answers the read-only commands), printing hosts and health
// probes, all on one stream. It returns the header and the steps.
func dryRun(t *testing.T, f *inventory.Fleet, o Options, rec *execx.Recorder) (string, *Report) {
	t.Helper()
	p, err := NewPlan(f, f.Hosts, o, routesIn(t, t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	p.PrintHeader(&out)
	rep := Run(context.Background(), Env{Runner: execx.NewDryRun(rec, &out), Hosts: hostops.PrintConnector{Out: &out}, Probe: PrintProbe{Out: &out},
		Events: &events{}, Fleet: f, RunID: "dry-1", Who: "alice@laptop", GitRev: "abc123"}, p)
	for _, h := range rep.Hosts {
		if !h.OK() {
			t.Errorf("%s: %s at %s: %s", h.Host, h.Result, h.Stage, h.Error)
		}
	}
	return out.String(), rep
}

// inOrder fails unless each of want is in out, each after the one before.
func inOrder(t *testing.T, out string, want ...string) {
	t.Helper()
	rest := out
	for _, w := range want {
		i := strings.Index(rest, w)
		if i < 0 {
			t.Errorf("missing, or out of order: %q\nin:\n%s", w, out)
			return
		}
		rest = rest[i+len(w):]
	}
}

// A dry run is the executor's run over printers: every step a host would
// take, in order, the activation as it will run.
func TestDryRunPrintsEveryStepInOrder(t *testing.T) {
	f := fakeFleet(t, healthHost)
	out, _ := dryRun(t, f, Options{Action: "switch", Flavour: nix.FlavourNG, StorePath: true, NoCheck: true}, &execx.Recorder{})
	ssh := "ssh root@10.0.0.5 "
	inOrder(t, out,
		"# nixctl deploy (switch) of 1 host(s), 4 at a time",
		"# web: if health fails: NIX_SSHOPTS='' nixos-rebuild switch --rollback --flake /fleet#web --target-host root@10.0.0.5\n",
		// preflight, then the lock, over ssh
		ssh+`'sh -c "<preflight.sh>" nixctl-preflight / 0'`+"\n",
		ssh+`'sh -c "<deploy-lock-acquire.sh>" nixctl-deploy-lock-acquire / 0'`,
		"nix build --no-link --json",
		"/fleet#nixosConfigurations.web.config.system.build.toplevel)\n",
		// magic rollback: the watchdog is armed from what the host runs
		ssh+`'sh -c "<status.sh>" nixctl-status /'`,
		ssh+`'sh -c "<watchdog.sh>" nixctl-watchdog / arm dry-1 switch '\''<generation running now>'\'' '\''<system root@10.0.0.5 runs now>'\'' 1800 30'`,
		"(cd /fleet && NIX_SSHOPTS='' nixos-rebuild switch --store-path '<built toplevel of web>' --target-host root@10.0.0.5)\n",
		// confirmed over a new connection
		ssh+`'sh -c "<watchdog.sh>" nixctl-watchdog / confirm dry-1'`,
		// health: ssh still lets us in, then the inventory's check
		ssh+"true\n",
		ssh+"'systemctl is-active app'\n",
		ssh+`'sh -c "<system-generation.sh>" nixctl-system-generation /'`,
		ssh+`'sh -c "<deploy-lock-release.sh>" nixctl-deploy-lock-release / dry-1'`,
	)
	if strings.Contains(out, "compare") {
		t.Errorf("a --store-path activation has nothing to compare:\n%s", out)
	}

	// boot with the bash nixos-rebuild: it evaluates the flake again, so
	// what the host boots next is read after the activation.
	out, _ = dryRun(t, f, Options{Action: "boot", Flavour: nix.FlavourBash, NoCheck: true}, &execx.Recorder{})
	inOrder(t, out,
		"# web: nixos-rebuild evaluates the flake again: if the system profile's target is not <built toplevel of web> after the activation: NIX_SSHOPTS='' nixos-rebuild boot --rollback --flake /fleet#web --target-host root@10.0.0.5\n",
		`nixctl-deploy-lock-acquire / 0`,
		"(cd /fleet && NIX_SSHOPTS='' nixos-rebuild boot --flake /fleet#web --target-host root@10.0.0.5)\n",
		`'sh -c "<status.sh>" nixctl-status /'`,
		`nixctl-deploy-lock-release / dry-1`)
	if strings.Contains(out, "watchdog") || strings.Contains(out, "systemctl is-active") {
		t.Errorf("boot arms no watchdog and checks no health:\n%s", out)
	}
}
