package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"os/user"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/nixctl/nixctl/internal/app"
	"github.com/nixctl/nixctl/internal/execx"
	"github.com/nixctl/nixctl/internal/exitcode"
	"github.com/nixctl/nixctl/internal/testutil"
	"github.com/nixctl/nixctl/internal/ui"
)

// result is what one in-process nixctl run left behind.
type result struct {
	stdout, stderr string
	code           int
}

// runIn runs nixctl in dir with a recording runner (nil: the real one) and
// testEnv(env) as its environment.
func runIn(t *testing.T, dir string, rec *execx.Recorder, env map[string]string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	var runner execx.Runner
	if rec != nil { // nil: the real runner (tests of real parts)
		runner = rec
	}
	deps := app.New(app.Parts{Runner: runner, Env: testEnv(env), Cwd: dir, Account: accountFor(env), Version: "test",
		Stdio: ui.Stdio{In: strings.NewReader(""), Out: &out, Err: &errb}})
	code := runDeps(deps, args...)
	return result{out.String(), errb.String(), code}
}

// accountFor makes an in-process nixctl run as the user env["USER"] names
// (nil: the real account). The account itself is tested by running nixctl
// as a real user (home_user_test.go).
func accountFor(env map[string]string) func() (*user.User, error) {
	name := env["USER"]
	if name == "" {
		return nil
	}
	return func() (*user.User, error) {
		return &user.User{Username: name, Uid: strconv.Itoa(os.Getuid()), HomeDir: env["HOME"]}, nil
	}
}

const fleetYAML = `hosts:
  - {name: web-1, address: 10.0.0.1, tags: [web]}
  - {name: db, address: 10.0.0.2, attr: db-main}
profiles:
  - {name: laptop, attr: gabriel@laptop}
`

// fleetEvaluates answers the one evaluation of fleetYAML's hosts and profile.
func fleetEvaluates() *execx.Stub {
	return testutil.EvalStub(map[string]testutil.EvalAnswer{
		"web-1": {DrvPath: "/nix/store/a-web.drv"}, "db-main": {DrvPath: "/nix/store/b-db.drv"}, "gabriel@laptop": {DrvPath: "/nix/store/c-hm.drv"},
	})
}

func TestCheckRunsFlakeCheckBesideOneEvaluation(t *testing.T) {
	t.Parallel()
	dir := testutil.WriteTree(t, map[string]string{"nixctl.yaml": fleetYAML, "flake.nix": "{}"})
	rec := &execx.Recorder{Paths: map[string]string{"nix": "/bin/nix"}}
	rec.Register([]string{"nix", "flake", "check", dir}, "", 0)
	rec.RegisterStub(fleetEvaluates())
	r := runIn(t, dir, rec, nil, "check")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	rec.Verify(t)
	// One nix process evaluates the hosts and the profile, over the
	// flake's outputs.
	var evals []string
	for _, a := range rec.Argvs() {
		if strings.HasPrefix(a, "nix eval") {
			evals = append(evals, a)
		}
	}
	if len(evals) != 1 || !strings.Contains(evals[0], " "+dir+`#"" `) || !strings.Contains(evals[0], `(one 0 o0 "web-1" p0 null)`) || !strings.Contains(evals[0], `(one 2 o1 "gabriel@laptop" p1 null)`) {
		t.Errorf("evaluations: %q", evals)
	}
	for _, want := range []string{"✓\thost\tweb-1\t/nix/store/a-web.drv", "✓\tprofile\tlaptop\t/nix/store/c-hm.drv"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, r.stdout)
		}
	}
}

func TestCheckFailureNamesHostFileAndLine(t *testing.T) {
	t.Parallel()
	dir := testutil.WriteTree(t, map[string]string{"nixctl.yaml": fleetYAML, "flake.nix": "{}", "hosts/db.nix": ""})
	rec := &execx.Recorder{Paths: map[string]string{"nix": "/bin/nix"}}
	rec.Register([]string{"nix", "flake", "check"}, "", 0)
	rec.RegisterStub(testutil.EvalStub(map[string]testutil.EvalAnswer{
		"web-1": {DrvPath: "/nix/store/a-web.drv"}, "db-main": {Failed: true}, "gabriel@laptop": {DrvPath: "/nix/store/c-hm.drv"},
	}))
	rec.RegisterStub(&execx.Stub{
		Prefix:   []string{"nix", "eval", "--raw", dir + "#nixosConfigurations.db-main.config.system.build.toplevel.drvPath"},
		Stderr:   `@nix {"action":"msg","level":0,"file":"/nix/store/vjd318fihnjgjws7rmwh0vaiyv4g13dp-source/hosts/db.nix","line":7,"column":3,"msg":"error: A definition for option 'networking.hostName' is not of type 'string'","raw_msg":"A definition for option 'networking.hostName' is not of type 'string'"}`,
		ExitCode: 1,
	})
	r := runIn(t, dir, rec, nil, "check", "--no-build")
	if r.code != exitcode.Check {
		t.Fatalf("exit %d, want %d", r.code, exitcode.Check)
	}
	if !strings.Contains(r.stdout, "✗\thost\tdb\thosts/db.nix:7:3: A definition for option 'networking.hostName' is not of type 'string'") {
		t.Errorf("stdout:\n%s", r.stdout)
	}
	if !strings.Contains(r.stderr, "nixctl: error: check failed for db: hosts/db.nix:7:3") || !strings.Contains(r.stderr, "nixctl: hint:") {
		t.Errorf("stderr:\n%s", r.stderr)
	}
	if !slices.ContainsFunc(rec.Argvs(), func(a string) bool {
		return strings.HasPrefix(a, "nix flake check") && strings.Contains(a, "--no-build")
	}) {
		t.Errorf("--no-build not passed: %v", rec.Argvs())
	}
	rec.Verify(t)
}

func TestCheckJSONAndNixArgs(t *testing.T) {
	t.Parallel()
	dir := testutil.WriteTree(t, map[string]string{"nixctl.yaml": fleetYAML, "flake.nix": "{}"})
	rec := &execx.Recorder{Paths: map[string]string{"nix": "/bin/nix"}}
	rec.Register([]string{"nix", "flake", "check"}, "", 0)
	rec.RegisterStub(fleetEvaluates())
	r := runIn(t, dir, rec, nil, "check", "@web", "--json", "--", "--impure")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var doc struct {
		OK    bool `json:"ok"`
		Items []struct{ Kind, Name string }
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, r.stdout)
	}
	if !doc.OK || len(doc.Items) != 2 || doc.Items[1].Name != "web-1" {
		t.Errorf("doc = %+v", doc)
	}
	for _, a := range rec.Argvs() {
		if !strings.HasSuffix(a, "--impure") {
			t.Errorf("NIX_ARGS not passed to %q", a)
		}
	}
}

func TestCheckDryRunRunsNothing(t *testing.T) {
	t.Parallel()
	dir := testutil.WriteTree(t, map[string]string{"nixctl.yaml": fleetYAML, "flake.nix": "{}"})
	rec := &execx.Recorder{Paths: map[string]string{"nix": "/bin/nix"}}
	r := runIn(t, dir, rec, nil, "check", "--dry-run", "db")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if len(rec.Calls()) != 0 {
		t.Errorf("dry-run ran %v", rec.Argvs())
	}
	if !strings.Contains(r.stdout, "nix eval --json --apply ") || !strings.Contains(r.stdout, `(one 0 outs "db-main" p0 null)`) || !strings.Contains(r.stdout, " "+dir+"#nixosConfigurations ") {
		t.Errorf("plan not printed:\n%s", r.stdout)
	}
}

func TestInventoryCheckAgainstFlake(t *testing.T) {
	t.Parallel()
	dir := testutil.WriteTree(t, map[string]string{"nixctl.yaml": fleetYAML, "flake.nix": "{}"})
	rec := &execx.Recorder{Paths: map[string]string{"nix": "/bin/nix"}}
	rec.Register([]string{"nix", "eval", "--json", dir + "#nixosConfigurations"}, `["web-1","extra"]`, 0)
	rec.RegisterStub(&execx.Stub{Prefix: []string{"nix", "eval", "--json", dir + "#homeConfigurations"},
		Stderr: "error: flake 'path:" + dir + "' does not provide attribute 'homeConfigurations'", ExitCode: 1})
	r := runIn(t, dir, rec, nil, "inventory", "check")
	if r.code != exitcode.Inventory {
		t.Fatalf("exit %d, want %d\n%s", r.code, exitcode.Inventory, r.stderr)
	}
	for _, want := range []string{`host "db": the flake has no nixosConfigurations.db-main`, `profile "laptop": the flake has no homeConfigurations."gabriel@laptop"`, "nixctl.yaml:3:"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	if !strings.Contains(r.stdout, "nixosConfigurations.extra is in the flake but not in the inventory") {
		t.Errorf("stdout:\n%s", r.stdout)
	}
	rec.Verify(t)
}

func TestNoInventoryIsExit3WithHint(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	r := runIn(t, dir, &execx.Recorder{}, nil, "inventory", "list")
	if r.code != exitcode.Inventory || !strings.Contains(r.stderr, "no nixctl.yaml found") || !strings.Contains(r.stderr, "hint:") {
		t.Errorf("exit %d stderr %q", r.code, r.stderr)
	}
}

func TestFlakeAndConfigFromEnvironment(t *testing.T) {
	t.Parallel()
	fleet := testutil.WriteTree(t, map[string]string{"nixctl.yaml": fleetYAML})
	elsewhere := t.TempDir()
	r := runIn(t, elsewhere, &execx.Recorder{}, map[string]string{"NIXCTL_FLAKE": fleet}, "inventory", "list")
	if r.code != 0 || !strings.Contains(r.stdout, "web-1") {
		t.Errorf("NIXCTL_FLAKE: exit %d %s %s", r.code, r.stdout, r.stderr)
	}
	r = runIn(t, elsewhere, &execx.Recorder{}, map[string]string{"NIXCTL_CONFIG": fleet + "/nixctl.yaml", "NIXCTL_JSON": "1"}, "inventory", "list")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "{") {
		t.Errorf("NIXCTL_CONFIG + NIXCTL_JSON: exit %d %s %s", r.code, r.stdout, r.stderr)
	}
	r = runIn(t, elsewhere, &execx.Recorder{}, map[string]string{"NIXCTL_JSON": "maybe"}, "version")
	if r.code != exitcode.Usage || !strings.Contains(r.stderr, "NIXCTL_JSON") {
		t.Errorf("bad boolean: exit %d %s", r.code, r.stderr)
	}
}

func TestUsageErrors(t *testing.T) {
	t.Parallel()
	dir := testutil.WriteTree(t, map[string]string{"nixctl.yaml": fleetYAML})
	for _, args := range [][]string{{"check", "--nope"}, {"version", "extra"}, {"check", "nosuch"}, {"-v", "-q", "version"}} {
		r := runIn(t, dir, &execx.Recorder{Paths: map[string]string{"nix": "/bin/nix"}}, nil, args...)
		if r.code != exitcode.Usage {
			t.Errorf("%v: exit %d, want 2 (%s)", args, r.code, r.stderr)
		}
		if !strings.HasPrefix(r.stderr, "nixctl: error: ") || !strings.Contains(r.stderr, "nixctl: hint: ") {
			t.Errorf("%v: stderr %q", args, r.stderr)
		}
	}
}

func TestNoColourWhenNotATerminal(t *testing.T) {
	t.Parallel()
	dir := testutil.WriteTree(t, map[string]string{"nixctl.yaml": fleetYAML})
	r := runIn(t, dir, &execx.Recorder{}, nil, "inventory", "show", "nope")
	if strings.Contains(r.stderr, "\x1b[") {
		t.Errorf("colour codes on a non-terminal: %q", r.stderr)
	}
}

func TestCompletionOffersInventoryNames(t *testing.T) {
	t.Parallel()
	dir := testutil.WriteTree(t, map[string]string{"nixctl.yaml": fleetYAML})
	r := runIn(t, dir, &execx.Recorder{}, nil, "__complete", "check", "")
	for _, want := range []string{"web-1", "db", "laptop", "@web"} {
		if !strings.Contains(r.stdout, want+"\n") {
			t.Errorf("completion lacks %q:\n%s", want, r.stdout)
		}
	}
	r = runIn(t, dir, &execx.Recorder{}, nil, "completion", "bash")
	if r.code != 0 || !strings.Contains(r.stdout, "__start_nixctl") {
		t.Errorf("bash completion: %d %s", r.code, r.stderr)
	}
}

func TestCheckSaysOnceWhenInputsCannotBeFetched(t *testing.T) {
	t.Parallel()
	dir := testutil.WriteTree(t, map[string]string{"nixctl.yaml": fleetYAML, "flake.nix": "{}"})
	rec := &execx.Recorder{Paths: map[string]string{"nix": "/bin/nix"}}
	download := `@nix {"action":"msg","level":0,"msg":"error: unable to download 'https://api.github.com/repos/NixOS/nixpkgs/commits/nixos-25.05': Couldn't resolve host name (6)"}`
	rec.RegisterStub(&execx.Stub{Prefix: []string{"nix", "flake", "check"}, ExitCode: 1, Stderr: download})
	rec.RegisterStub(&execx.Stub{Prefix: []string{"nix", "eval"}, ExitCode: 1, Stderr: download})
	r := runIn(t, dir, rec, nil, "check")
	if r.code != exitcode.Check {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	// The evaluation runs beside the flake check and meets the same error
	// once, not once per item or per output.
	if n := len(rec.Calls()); n != 2 {
		t.Errorf("want the flake check and one evaluation: %v", rec.Argvs())
	}
	if !strings.Contains(r.stdout, "✗\thost\tweb-1\tnot evaluated: the flake's inputs could not be fetched") ||
		!strings.Contains(r.stderr, "hint: the flake's inputs could not be fetched: run 'nix flake lock'") {
		t.Errorf("stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	}
	rec.Verify(t)
}

// A host or profile without tags has an empty list of them, in the JSON a
// script reads as in the table.
func TestInventoryJSONListsNoTagsAsAnEmptyList(t *testing.T) {
	t.Parallel()
	dir := testutil.WriteTree(t, map[string]string{"nixctl.yaml": fleetYAML})
	for _, args := range [][]string{{"--json", "inventory", "show", "db"}, {"--json", "inventory", "show", "laptop"}} {
		r := runIn(t, dir, &execx.Recorder{}, nil, args...)
		var doc struct {
			Tags []string `json:"tags"`
		}
		if r.code != 0 || json.Unmarshal([]byte(r.stdout), &doc) != nil || doc.Tags == nil || !strings.Contains(r.stdout, `"tags": []`) {
			t.Errorf("%v: exit %d\n%s%s", args, r.code, r.stdout, r.stderr)
		}
	}
}
