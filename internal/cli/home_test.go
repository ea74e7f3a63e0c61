package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nixctl/nixctl/internal/app"
	"github.com/nixctl/nixctl/internal/execx"
	"github.com/nixctl/nixctl/internal/exitcode"
	"github.com/nixctl/nixctl/internal/testutil"
	"github.com/nixctl/nixctl/internal/ui"
)

const homeFleetYAML = `hosts:
  - {name: nixos-mini, address: 192.0.2.20, user: deploy, port: 2222, identity: /keys/id_ed25519}
profiles:
  - {name: laptop, attr: gabriel@laptop, user: gabriel, backupExtension: hm-bak}
  - {name: work, attr: gabriel@work, user: gabriel}
  - {name: server, user: ops, host: nixos-mini, tags: [servers]}
`

// buildOutput is nix build --json for generations at paths.
func buildOutput(paths ...string) string {
	var items []string
	for _, p := range paths {
		items = append(items, `{"drvPath":"`+p+`.drv","outputs":{"out":"`+p+`"}}`)
	}
	return "[" + strings.Join(items, ",") + "]"
}

// profilesEvaluate answers the one evaluation a build or switch starts
// with: each profile's derivation.
func profilesEvaluate() *execx.Stub {
	return testutil.EvalStubFunc(func(name string) (testutil.EvalAnswer, bool) {
		return testutil.EvalAnswer{DrvPath: "/nix/store/" + strings.Repeat("d", 32) + "-home-manager-generation-" + strings.ReplaceAll(name, "@", "-") + ".drv"}, true
	})
}

func homeFleet(t *testing.T) (dir string, env map[string]string) {
	t.Helper()
	dir = testutil.WriteTree(t, map[string]string{"nixctl.yaml": homeFleetYAML, "flake.nix": "{}"})
	home := t.TempDir()
	return dir, map[string]string{"HOME": home, "USER": "gabriel"}
}

// Several profiles: one evaluation finds their derivations, one nix build
// builds those (evaluating nothing again), and each generation is matched
// to its profile by derivation, whatever order nix build answers in.
func TestHomeBuildBuildsSeveralProfilesInOneNixBuild(t *testing.T) {
	t.Parallel()
	dir, env := homeFleet(t)
	rec := &execx.Recorder{Paths: map[string]string{"nix": "/bin/nix"}}
	laptop, server := "/nix/store/aaa-home-manager-generation", "/nix/store/bbb-home-manager-generation"
	rec.RegisterStub(testutil.EvalStub(map[string]testutil.EvalAnswer{
		"gabriel@laptop": {DrvPath: laptop + ".drv"}, "server": {DrvPath: server + ".drv"},
	}))
	rec.Register([]string{"nix", "--version"}, "nix (Nix) 2.8.0\n", 0)
	rec.Register([]string{"nix", "build", "--no-link", "--json"}, buildOutput(server, laptop), 0)
	r := runIn(t, dir, rec, env, "home", "build", "laptop", "@servers")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	rec.Verify(t)
	var evals, builds []string
	for _, argv := range rec.Argvs() {
		switch {
		case strings.HasPrefix(argv, "nix eval"):
			evals = append(evals, argv)
		case strings.HasPrefix(argv, "nix build"):
			builds = append(builds, argv)
		}
	}
	if len(evals) != 1 || len(builds) != 1 {
		t.Fatalf("want one evaluation and one build, got %q", rec.Argvs())
	}
	if !strings.HasSuffix(builds[0], " "+laptop+".drv "+server+".drv") {
		t.Errorf("the build does not build the evaluated derivations: %s", builds[0])
	}
	if r.stdout != "laptop\t"+laptop+"\nserver\t"+server+"\n" {
		t.Errorf("stdout:\n%s", r.stdout)
	}
}

// A profile whose evaluation fails does not stop the others: they are
// built, the table says which failed and why, and the exit code is 9.
func TestHomeBuildBuildsTheProfilesThatEvaluate(t *testing.T) {
	t.Parallel()
	dir, env := homeFleet(t)
	rec := &execx.Recorder{Paths: map[string]string{"nix": "/bin/nix"}}
	server := "/nix/store/bbb-home-manager-generation"
	rec.RegisterStub(testutil.EvalStub(map[string]testutil.EvalAnswer{"gabriel@laptop": {Failed: true}, "server": {DrvPath: server + ".drv"}}))
	rec.RegisterStub(&execx.Stub{Prefix: []string{"nix", "eval", "--raw", dir + `#homeConfigurations."gabriel@laptop".activationPackage.drvPath`}, ExitCode: 1,
		Stderr: `@nix {"action":"msg","level":0,"msg":"error: undefined variable 'zsh'","file":"/repo/home/laptop.nix","line":3,"column":5}` + "\n"})
	rec.Register([]string{"nix", "--version"}, "nix (Nix) 2.8.0\n", 0)
	rec.Register([]string{"nix", "build", "--no-link", "--json"}, buildOutput(server), 0)
	r := runIn(t, dir, rec, env, "home", "build", "laptop", "server")
	if r.code != exitcode.Build {
		t.Fatalf("exit %d, want %d: %s", r.code, exitcode.Build, r.stderr)
	}
	rec.Verify(t)
	if r.stdout != "laptop\t✗ building laptop failed: /repo/home/laptop.nix:3:5: undefined variable 'zsh'\nserver\t"+server+"\n" {
		t.Errorf("stdout:\n%s", r.stdout)
	}
	if !strings.Contains(r.stderr, "nixctl: error: building laptop failed: /repo/home/laptop.nix:3:5: undefined variable 'zsh'") {
		t.Errorf("stderr:\n%s", r.stderr)
	}
	for _, argv := range rec.Argvs() {
		if strings.HasPrefix(argv, "nix build") && strings.Contains(argv, "laptop") {
			t.Errorf("the profile that failed to evaluate was built: %s", argv)
		}
	}
}

func TestHomeBuildFailureIsExit9WithTheNixError(t *testing.T) {
	t.Parallel()
	dir, env := homeFleet(t)
	rec := &execx.Recorder{Paths: map[string]string{"nix": "/bin/nix"}}
	rec.RegisterStub(testutil.EvalStub(map[string]testutil.EvalAnswer{"gabriel@laptop": {Failed: true}}))
	rec.RegisterStub(&execx.Stub{Prefix: []string{"nix", "eval", "--raw"}, ExitCode: 1,
		Stderr: `@nix {"action":"msg","level":0,"msg":"error: undefined variable 'zsh'","file":"/repo/home/laptop.nix","line":3,"column":5}` + "\n"})
	r := runIn(t, dir, rec, env, "home", "build", "laptop")
	if r.code != exitcode.Build {
		t.Fatalf("exit %d, want %d: %s", r.code, exitcode.Build, r.stderr)
	}
	if !strings.Contains(r.stderr, "nixctl: error: building laptop failed: /repo/home/laptop.nix:3:5: undefined variable 'zsh'") {
		t.Errorf("stderr:\n%s", r.stderr)
	}
}

func TestHomeSwitchWithoutHomeManagerRunsThePinnedOne(t *testing.T) {
	t.Parallel()
	dir, env := homeFleet(t)
	rec := &execx.Recorder{Paths: map[string]string{"nix": "/bin/nix"}}
	rec.Register([]string{"nix", "build"}, buildOutput("/nix/store/aaa-home-manager-generation"), 0)
	rec.RegisterStub(profilesEvaluate())
	rec.Register([]string{"nix", "run", "--extra-experimental-features", "nix-command flakes", "--inputs-from", dir, "home-manager", "--",
		"switch", "--flake", dir + "#gabriel@laptop", "-b", "hm-bak"}, "", 0)
	r := runIn(t, dir, rec, env, "home", "switch", "laptop")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	rec.Verify(t)
	if !strings.Contains(r.stderr, "home-manager is not on PATH: running the one pinned in the flake's lock file (nix run --inputs-from "+dir+" home-manager)") {
		t.Errorf("stderr does not say so:\n%s", r.stderr)
	}
}

func TestHomeSwitchThroughNixRunWithoutAHomeManagerInput(t *testing.T) {
	t.Parallel()
	dir, env := homeFleet(t)
	rec := &execx.Recorder{Paths: map[string]string{"nix": "/bin/nix"}}
	rec.Register([]string{"nix", "build"}, buildOutput("/nix/store/aaa-home-manager-generation"), 0)
	rec.RegisterStub(profilesEvaluate())
	rec.RegisterStub(&execx.Stub{Prefix: []string{"nix", "run"}, ExitCode: 1, Stderr: "error: cannot find flake 'flake:home-manager' in the flake registries\n"})
	r := runIn(t, dir, rec, env, "home", "switch", "laptop")
	if r.code != 1 || !strings.Contains(r.stderr, "nixctl: hint: the flake has no home-manager input for nix run --inputs-from: add inputs.home-manager") {
		t.Errorf("exit %d:\n%s", r.code, r.stderr)
	}
}

func TestHomeSwitchSeveralProfilesEndsWithASummary(t *testing.T) {
	t.Parallel()
	dir, env := homeFleet(t)
	rec := &execx.Recorder{Paths: map[string]string{"nix": "/bin/nix", "home-manager": "/bin/home-manager"}}
	rec.Register([]string{"nix", "build"}, buildOutput("/nix/store/aaa-home-manager-generation", "/nix/store/bbb-home-manager-generation"), 0)
	rec.RegisterStub(profilesEvaluate())
	rec.Register([]string{"home-manager", "switch", "--flake", dir + "#gabriel@laptop"}, "", 0)
	rec.RegisterStub(&execx.Stub{Prefix: []string{"home-manager", "switch", "--flake", dir + "#gabriel@work"}, ExitCode: 1, Stderr: "error: activation failed\n"})
	r := runIn(t, dir, rec, env, "home", "switch", "laptop", "work")
	if r.code != exitcode.Partial {
		t.Fatalf("exit %d, want %d: %s", r.code, exitcode.Partial, r.stderr)
	}
	rec.Verify(t)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "✓\tlaptop\there\t/nix/store/aaa-home-manager-generation\t") || !strings.HasPrefix(lines[1], "✗\twork\there\tprofile work: home-manager switch failed") {
		t.Errorf("summary:\n%s", r.stdout)
	}
	if !strings.Contains(r.stderr, "nixctl: error: 1 of 2 profiles failed: work") || !strings.Contains(r.stderr, "work: error: activation failed") {
		t.Errorf("stderr:\n%s", r.stderr)
	}

	r = runIn(t, dir, rec, env, "home", "switch", "laptop", "work", "--json")
	var doc struct {
		OK      bool
		Results []struct {
			Profile string
			OK      bool
			Error   string
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil || doc.OK || len(doc.Results) != 2 || !doc.Results[0].OK || doc.Results[1].OK {
		t.Errorf("JSON (%v): %s", err, r.stdout)
	}
	if r.code != exitcode.Partial || strings.Contains(r.stderr, "nixctl: error:") {
		t.Errorf("--json: exit %d, stderr:\n%s", r.code, r.stderr)
	}
}

func TestHomeSwitchDiffShowsChangesAndAsks(t *testing.T) {
	t.Parallel()
	dir, env := homeFleet(t)
	old := t.TempDir()
	profiles := filepath.Join(env["HOME"], ".local", "state", "nix", "profiles")
	if err := os.MkdirAll(profiles, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(old, filepath.Join(profiles, "home-manager")); err != nil {
		t.Fatal(err)
	}
	newGen := "/nix/store/bbb-home-manager-generation"
	rec := &execx.Recorder{Paths: map[string]string{"nix": "/bin/nix", "home-manager": "/bin/home-manager"}}
	rec.Register([]string{"nix", "build"}, buildOutput(newGen), 0)
	rec.RegisterStub(profilesEvaluate())
	rec.Register([]string{"nix", "store", "diff-closures", "--extra-experimental-features", "nix-command flakes", old, newGen},
		"atuin: 18.3.0 → ∅, \x1b[32;1m-27.0 KiB\x1b[0m\nripgrep: ∅ → 14.1.0\nzsh: 5.9 → 5.9.1\n", 0)
	rec.Register([]string{"nix", "path-info"}, `[{"path":"`+newGen+`","closureSize":3145728},{"path":"`+old+`","closureSize":1048576}]`, 0)

	// No terminal and no --yes: nothing is switched.
	r := runIn(t, dir, rec, env, "home", "switch", "laptop", "--diff")
	if r.code != exitcode.Usage || !strings.Contains(r.stderr, "pass --yes") {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	want := "laptop: 1 added, 1 removed, 1 changed; closure 1.0 MiB → 3.0 MiB (+2.0 MiB)\n  - atuin 18.3.0 (-27.0 KiB)\n  + ripgrep 14.1.0\n  ~ zsh 5.9 → 5.9.1\n"
	if r.stdout != want {
		t.Errorf("diff:\n%s\nwant:\n%s", r.stdout, want)
	}
	for _, a := range rec.Argvs() {
		if strings.HasPrefix(a, "home-manager") {
			t.Fatalf("switched without confirmation: %s", a)
		}
	}

	rec.Register([]string{"home-manager", "switch"}, "", 0)
	r = runIn(t, dir, rec, env, "home", "switch", "laptop", "--diff", "--yes")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	rec.Verify(t)

	// --json: one document, each result with its diff.
	r = runIn(t, dir, rec, env, "home", "switch", "laptop", "--diff", "--yes", "--json")
	var doc struct {
		OK      bool
		Results []struct {
			Profile string
			Diff    struct {
				Changes          []struct{ Package, Kind string }
				ClosureSizeDelta int64
			}
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil || !doc.OK || len(doc.Results) != 1 ||
		len(doc.Results[0].Diff.Changes) != 3 || doc.Results[0].Diff.ClosureSizeDelta != 2<<20 {
		t.Errorf("JSON (%v):\n%s", err, r.stdout)
	}
}

// A remote profile's dry run prints every step of the switch in order, as
// the real run takes them, and runs nothing here or on the host.
func TestHomeRemoteProfileDryRunPrintsCopyAndActivation(t *testing.T) {
	t.Parallel()
	dir, env := homeFleet(t)
	rec := &execx.Recorder{Paths: map[string]string{"nix": "/bin/nix"}}
	before, beforeHome := testutil.Tree(t, dir), testutil.Tree(t, env["HOME"])
	const ssh = "ssh -p 2222 -i /keys/id_ed25519 ops@192.0.2.20 "
	gen := `'\''/nix/store/<generation-of-server>'\''`
	build := "nix build --no-link --json --log-format internal-json --extra-experimental-features 'nix-command flakes' " + dir + "#homeConfigurations.server.activationPackage"
	preflight := ssh + `'sh -c "<preflight.sh>" nixctl-preflight / 0'`
	// The build names the profile by attribute: the evaluation that would
	// find its derivation first is read-only and skipped.
	const skipped = "# not run in a dry run: evaluating the profiles' derivations before their build"
	switchSteps := []string{
		preflight,
		"NIX_SSHOPTS='-p 2222 -i /keys/id_ed25519' nix copy --extra-experimental-features 'nix-command flakes' --to ssh://deploy@192.0.2.20 '/nix/store/<generation-of-server>'",
		ssh + `'sh -c "<home-clobbers.sh>" nixctl-home-clobbers / ` + gen + ` '\'''\'''`,
		ssh + `'sh -c "<home-activate.sh>" nixctl-home-activate / 300 generation ` + gen + ` '\'''\'''`,
	}
	for _, tc := range []struct {
		args  []string
		steps []string
	}{
		{[]string{"home", "switch", "server"}, append([]string{skipped, build}, switchSteps...)},
		// With --diff: the host's generations are read to compare, then
		// the question before switching is a step of the plan.
		{[]string{"home", "switch", "server", "--diff"}, append([]string{skipped, build, preflight,
			ssh + `'sh -c "<home-generations.sh>" nixctl-home-generations /'`,
			"# ask: switch server? (a dry run answers yes)"}, switchSteps...)},
	} {
		r := runIn(t, dir, rec, env, append([]string{"--dry-run"}, tc.args...)...)
		if r.code != 0 {
			t.Fatalf("%v: exit %d: %s", tc.args, r.code, r.stderr)
		}
		if got := strings.Split(strings.TrimSpace(r.stdout), "\n"); !slices.Equal(got, tc.steps) {
			t.Errorf("%v printed:\n%s\nwant:\n%s", tc.args, r.stdout, strings.Join(tc.steps, "\n"))
		}
	}
	if len(rec.Calls()) != 0 {
		t.Errorf("dry-run ran %q", rec.Argvs())
	}
	testutil.SameTree(t, "home switch --dry-run", before, testutil.Tree(t, dir))
	testutil.SameTree(t, "home switch --dry-run", beforeHome, testutil.Tree(t, env["HOME"]))
}

func TestHomeSwitchRefusesABadBackupExtension(t *testing.T) {
	t.Parallel()
	dir, env := homeFleet(t)
	rec := &execx.Recorder{Paths: map[string]string{"nix": "/bin/nix"}}
	r := runIn(t, dir, rec, env, "home", "switch", "laptop", "--backup-ext", "../../etc/x")
	if r.code != exitcode.Usage || !strings.Contains(r.stderr, "nixctl: error: --backup-ext: ") || len(rec.Calls()) != 0 {
		t.Errorf("exit %d: %s (ran %q)", r.code, r.stderr, rec.Argvs())
	}
}

func TestHomeUnknownSubcommandIsAUsageError(t *testing.T) {
	t.Parallel()
	dir, env := homeFleet(t)
	r := runIn(t, dir, &execx.Recorder{}, env, "home", "swtich", "laptop")
	if r.code != exitcode.Usage || !strings.Contains(r.stderr, `unknown command "swtich" for nixctl home`) || !strings.Contains(r.stderr, "did you mean 'nixctl home switch'?") {
		t.Errorf("exit %d: %s", r.code, r.stderr)
	}
}

func TestHomeAutoSelectionListsProfilesWhenAmbiguous(t *testing.T) {
	t.Parallel()
	dir, env := homeFleet(t)
	env["USER"] = "nobody-in-particular"
	rec := &execx.Recorder{Paths: map[string]string{"nix": "/bin/nix"}}
	r := runIn(t, dir, rec, env, "home", "build")
	if r.code != exitcode.Usage || !strings.Contains(r.stderr, "profiles: laptop, work, server") {
		t.Errorf("exit %d: %s", r.code, r.stderr)
	}
}

func TestHomeRemoteRollbackDryRunPrintsTheSSHCommand(t *testing.T) {
	t.Parallel()
	dir, env := homeFleet(t)
	rec := &execx.Recorder{Paths: map[string]string{"nix": "/bin/nix"}}
	before, beforeHome := testutil.Tree(t, dir), testutil.Tree(t, env["HOME"])
	r := runIn(t, dir, rec, env, "--dry-run", "home", "rollback", "server", "--to", "3")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	testutil.SameTree(t, "home rollback --dry-run", before, testutil.Tree(t, dir))
	testutil.SameTree(t, "home rollback --dry-run", beforeHome, testutil.Tree(t, env["HOME"]))
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 3 || lines[0] != `ssh -p 2222 -i /keys/id_ed25519 ops@192.0.2.20 'sh -c "<preflight.sh>" nixctl-preflight / 0'` {
		t.Fatalf("want the preflight, the generations listing, then the rollback:\n%s", r.stdout)
	}
	lines = lines[1:]
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "ssh -p 2222 -i /keys/id_ed25519 ops@192.0.2.20 ") || !strings.HasSuffix(lines[0], `'sh -c "<home-generations.sh>" nixctl-home-generations /'`) {
		t.Fatalf("want the generations listing, then the rollback:\n%s", r.stdout)
	}
	if lines[1] != `ssh -p 2222 -i /keys/id_ed25519 ops@192.0.2.20 'sh -c "<home-activate.sh>" nixctl-home-activate / 300 rollback 0 3'` {
		t.Errorf("rollback: %s", lines[1])
	}
	if r := runIn(t, dir, rec, env, "--dry-run", "home", "rollback", "server"); r.code != exitcode.Usage || !strings.Contains(r.stderr, "pass --to N with --dry-run") {
		t.Errorf("dry-run without --to: exit %d: %s", r.code, r.stderr)
	}
	if len(rec.Calls()) != 0 {
		t.Errorf("dry-run ran %q", rec.Argvs())
	}
}

func TestHomeSwitchInterruptedSaysWhatWasNotDone(t *testing.T) {
	t.Parallel()
	dir, env := homeFleet(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rec := &execx.Recorder{Paths: map[string]string{"nix": "/bin/nix", "home-manager": "/bin/home-manager"}}
	rec.Register([]string{"nix", "build"}, buildOutput("/nix/store/aaa-home-manager-generation", "/nix/store/bbb-home-manager-generation"), 0)
	rec.RegisterStub(profilesEvaluate())
	rec.RegisterStub(&execx.Stub{Prefix: []string{"home-manager", "switch"}, Func: func(execx.Cmd) (string, int) {
		cancel() // SIGINT while the first profile switches
		return "", 0
	}})
	var out, errb bytes.Buffer
	deps := app.New(app.Parts{Runner: rec, Env: testEnv(env), Account: accountFor(env), Cwd: dir, Version: "test",
		Stdio: ui.Stdio{In: strings.NewReader(""), Out: &out, Err: &errb}})
	code := run(ctx, deps, []string{"home", "switch", "laptop", "work"})
	if code != exitcode.Interrupted {
		t.Fatalf("exit %d, want 130:\n%s", code, errb.String())
	}
	if !strings.Contains(errb.String(), "nixctl: error: interrupted: switched none; not switched laptop, work") {
		t.Errorf("stderr:\n%s", errb.String())
	}
	switches := 0
	for _, argv := range rec.Argvs() {
		if strings.HasPrefix(argv, "home-manager switch") {
			switches++
		}
	}
	if switches != 1 {
		t.Errorf("the second profile started after the interrupt: %q", rec.Argvs())
	}
}

// A profile that fails to evaluate is not switched; the others are, and the
// summary gives its located error.
func TestHomeSwitchGoesOnPastAProfileThatFailsToEvaluate(t *testing.T) {
	t.Parallel()
	dir, env := homeFleet(t)
	rec := &execx.Recorder{Paths: map[string]string{"nix": "/bin/nix", "home-manager": "/bin/home-manager"}}
	laptop := "/nix/store/aaa-home-manager-generation"
	rec.RegisterStub(testutil.EvalStub(map[string]testutil.EvalAnswer{"gabriel@laptop": {DrvPath: laptop + ".drv"}, "gabriel@work": {Failed: true}}))
	rec.RegisterStub(&execx.Stub{Prefix: []string{"nix", "eval", "--raw", dir + `#homeConfigurations."gabriel@work".activationPackage.drvPath`}, ExitCode: 1,
		Stderr: `@nix {"action":"msg","level":0,"msg":"error: undefined variable 'zsh'","file":"` + dir + `/home/work.nix","line":3,"column":5}` + "\n"})
	rec.Register([]string{"nix", "--version"}, "nix (Nix) 2.8.0\n", 0)
	rec.Register([]string{"nix", "build", "--no-link", "--json", "--log-format", "internal-json", "--extra-experimental-features", "nix-command flakes", laptop + ".drv"}, buildOutput(laptop), 0)
	rec.Register([]string{"home-manager", "switch", "--flake", dir + "#gabriel@laptop"}, "", 0)
	r := runIn(t, dir, rec, env, "home", "switch", "laptop", "work")
	if r.code != exitcode.Partial {
		t.Fatalf("exit %d, want %d: %s", r.code, exitcode.Partial, r.stderr)
	}
	rec.Verify(t)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "✓\tlaptop\there\t"+laptop+"\t") || !strings.HasPrefix(lines[1], "✗\twork\there\tbuilding work failed: home/work.nix:3:5: undefined variable 'zsh'") {
		t.Errorf("summary:\n%s", r.stdout)
	}
	for _, argv := range rec.Argvs() {
		if strings.Contains(argv, "gabriel@work") && !strings.HasPrefix(argv, "nix eval") {
			t.Errorf("work, which did not evaluate, went on: %s", argv)
		}
	}
}
