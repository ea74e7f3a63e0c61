package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/nixctl/nixctl/internal/execx"
	"github.com/nixctl/nixctl/internal/exitcode"
	"github.com/nixctl/nixctl/internal/nix"
	"github.com/nixctl/nixctl/internal/testutil"
)

// ciRecorded is a one-host repository whose nix answers come from a
// recorder: every stage passes unless a test overrides a stub.
func ciRecorded(t *testing.T) (dir string, rec *execx.Recorder) {
	t.Helper()
	dir = testutil.WriteTree(t, map[string]string{
		"nixctl.yaml": "hosts:\n  - name: a\n    address: 192.0.2.1\n",
		"flake.nix":   "{ outputs = { self }: { }; }\n",
	})
	rec = &execx.Recorder{Paths: map[string]string{"nix": "/usr/bin/nix"}}
	rec.Register(nix.EvalAttrNames(dir, "nixosConfigurations"), `["a"]`, 0)
	rec.Register(nix.EvalAttrNames(dir, "homeConfigurations"), `[]`, 0)
	rec.Register(nix.EvalPositions(dir, []string{"checks"}, 2), `{}`, 0)
	rec.Register([]string{"nix", "flake", "check", dir}, "", 0)
	rec.RegisterStub(testutil.EvalStub(map[string]testutil.EvalAnswer{"a": {DrvPath: "/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-nixos-system-a.drv"}}))
	return dir, rec
}

// ciDeployFleet is a one-host repository whose host web is a real sshd on
// 127.0.0.1, as TestDeployCommandWithRealSSHD has it: the ci stages' nix
// answers and nixos-rebuild come from the recorder, preflight, lock and
// health checks reach the sshd.
func ciDeployFleet(t *testing.T) (dir string, rec *execx.Recorder, env map[string]string, s *testutil.SSHD) {
	t.Helper()
	testutil.Require(t, "nix")
	s = testutil.StartSSHD(t, testutil.SSHDOptions{OwnSystem: true})
	home := t.TempDir()
	kh, err := os.ReadFile(s.KnownHostsFile)
	if err != nil {
		t.Fatal(err)
	}
	testutil.WriteFiles(t, home, map[string]string{".ssh/known_hosts": string(kh)})
	dir = testutil.WriteTree(t, map[string]string{
		"nixctl.yaml": fmt.Sprintf("hosts:\n  - {name: web, address: 127.0.0.1, port: %d, identity: %s}\n", s.Port, s.ClientKeyFile),
		"flake.nix":   "{ outputs = { self }: { }; }\n",
	})
	rec = &execx.Recorder{Paths: map[string]string{"nix": "/usr/bin/nix", "nixos-rebuild": "/bin/nixos-rebuild"}}
	// The bash nixos-rebuild: the deploy checks afterwards that the host
	// runs what it built.
	probeStub(rec, "unknown option `--nixctl-flavour-probe'\n", 1)
	rec.Register(nix.EvalAttrNames(dir, "nixosConfigurations"), `["web"]`, 0)
	rec.Register(nix.EvalAttrNames(dir, "homeConfigurations"), `[]`, 0)
	rec.Register(nix.EvalPositions(dir, []string{"checks"}, 2), `{}`, 0)
	rec.Register([]string{"nix", "flake", "check", dir}, "", 0)
	rec.RegisterStub(testutil.EvalStub(map[string]testutil.EvalAnswer{"web": {DrvPath: "/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-nixos-system-web.drv"}}))
	rec.Register(nix.Version(), "nix (Nix) 2.8.0\n", 0)
	rec.Register([]string{"nix", "build"},
		`[{"drvPath":"/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-nixos-system-web.drv","outputs":{"out":"`+ciBuilt+`"}}]`, 0)
	env = map[string]string{"HOME": home, "XDG_STATE_HOME": filepath.Join(home, "state"), "USER": "alice", "PATH": os.Getenv("PATH")}
	return dir, rec, env, s
}

// ciBuilt is the system the recorded nix build made of host web.
const ciBuilt = "/nix/store/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb-nixos-system-web"

// ci --deploy deploys in this process once every stage passed: no
// confirmation (--deploy is the consent), no check of its own, and a case
// per host in the ci report.
func TestCIDeployRunsWhenEveryStagePassed(t *testing.T) {
	dir, rec, env, s := ciDeployFleet(t)
	rec.RegisterStub(&execx.Stub{Prefix: []string{"nixos-rebuild", "switch", "--flake", dir + "#web", "--target-host", "root@127.0.0.1"}, Func: func(execx.Cmd) (string, int) {
		if err := os.Symlink(ciBuilt, filepath.Join(s.Root(), "run/current-system")); err != nil {
			return err.Error(), 1
		}
		return "activating the configuration...\n", 0
	}})
	r := runIn(t, dir, rec, env, "ci", "--deploy", "web", "--json", "-")
	if r.code != exitcode.OK {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	rec.Verify(t)
	checks, builds := 0, 0
	for _, a := range rec.Argvs() {
		// The build stage (the first nix build; the deploy builds after it)
		// builds the derivation the evaluate stage found.
		if strings.HasPrefix(a, "nix build") {
			if builds++; builds == 1 && !strings.HasSuffix(a, " /nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-nixos-system-web.drv") {
				t.Errorf("the build stage evaluates the flake again: %s", a)
			}
		}
		if strings.HasPrefix(a, "nix flake check") {
			checks++
		}
	}
	if checks != 1 {
		t.Errorf("nix flake check ran %d times, want once (the deploy has no check stage of its own)", checks)
	}
	var rep struct {
		OK     bool `json:"ok"`
		Stages []struct {
			Name   string `json:"name"`
			Status string `json:"status"`
			Cases  []struct {
				Kind, Name, Status, Output string
			} `json:"cases"`
		} `json:"stages"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("--json - printed no JSON (or something beside it): %v\n%s", err, r.stdout)
	}
	var names []string
	for _, s := range rep.Stages {
		names = append(names, s.Name+":"+s.Status)
	}
	if got := strings.Join(names, " "); got != "inventory:passed secrets:skipped flake:passed evaluate:passed secrets-access:skipped build:passed deploy:passed" {
		t.Errorf("stages = %s", got)
	}
	c := rep.Stages[6].Cases
	if len(c) != 1 || c[0].Kind != "host" || c[0].Name != "web" || c[0].Status != "passed" {
		t.Fatalf("deploy cases = %+v, want one per deployed host", c)
	}
	// The case's output is the host's log of this deploy.
	if log, err := os.ReadFile(c[0].Output); err != nil || !strings.Contains(string(log), "activating the configuration...") {
		t.Errorf("deploy case output %q: %v\n%s", c[0].Output, err, log)
	}
	if out := rep.Stages[5].Cases[0].Output; out != ciBuilt {
		t.Errorf("build case output = %q, want the out path", out)
	}
	if !strings.Contains(r.stderr, "web: activating the configuration...") {
		t.Errorf("the deploy's progress goes to stderr, prefixed with the host:\n%s", r.stderr)
	}
}

// The deploy's own exit code is ci's, and each failed host is a failure in
// the JUnit report.
func TestCIDeployPassesItsExitCodeOn(t *testing.T) {
	dir, rec, env, _ := ciDeployFleet(t)
	rec.RegisterStub(&execx.Stub{Prefix: []string{"nixos-rebuild", "switch", "--flake", dir + "#web"}, ExitCode: 1,
		Stderr: "error: activation script failed\n"})
	report := filepath.Join(t.TempDir(), "r.xml")
	r := runIn(t, dir, rec, env, "ci", "--deploy", "web", "--junit", report)
	// One host, failed: deploy exits AllFailed, and so does ci.
	if r.code != exitcode.AllFailed {
		t.Fatalf("exit %d, want deploy's %d\n%s", r.code, exitcode.AllFailed, r.stderr)
	}
	rec.Verify(t)
	fails := readJUnit(t, report).failures()
	if len(fails) != 1 || !strings.HasPrefix(fails["deploy/host web"], "failed at activate: ") {
		t.Errorf("failures = %v, want the host's deploy result", fails)
	}
	if !strings.Contains(r.stderr, "nixctl: error: ci failed at the deploy stage") {
		t.Errorf("no one-line error:\n%s", r.stderr)
	}
}

func TestCIDeploySkippedAfterAFailedStage(t *testing.T) {
	t.Parallel()
	dir, rec := ciRecorded(t)
	rec.RegisterStub(&execx.Stub{Prefix: []string{"nix", "build", "--no-link", "--json"}, ExitCode: 1,
		Stderr: `@nix {"action":"msg","level":0,"msg":"error: builder for '/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-nixos-system-a.drv' failed with exit code 1"}` + "\n"})
	rec.Register(nix.EvalPositions(dir, []string{"nixosConfigurations"}, 1), `{"a":{"file":"`+dir+`/flake.nix","line":4,"column":9}}`, 0)
	report := filepath.Join(t.TempDir(), "r.xml")
	code, _, stderr := ciRun(t, dir, nil, rec, "ci", "--deploy", "a", "--junit", report)
	if code != exitcode.Build {
		t.Fatalf("exit %d, want %d\n%s", code, exitcode.Build, stderr)
	}
	rec.Verify(t)
	for _, argv := range rec.Argvs() {
		if strings.HasPrefix(argv, "nixos-rebuild") {
			t.Errorf("deploy ran after a failed build: %s", argv)
		}
	}
	doc := readJUnit(t, report)
	fails := doc.failures()
	if msg := fails["build/host a"]; msg != "flake.nix:4:9: builder for '/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-nixos-system-a.drv' failed with exit code 1" || len(fails) != 1 {
		t.Errorf("failures = %v", fails)
	}
	if s := doc.Suites[6]; s.Name != "deploy" || s.Skipped != 1 || !strings.Contains(s.Cases[0].Skipped.Message, "build stage failed") {
		t.Errorf("deploy suite = %+v", s)
	}
	if !strings.Contains(stderr, "nixctl: error: ci failed at the build stage") || !strings.Contains(stderr, "nixctl: hint:") {
		t.Errorf("no one-line error with hint:\n%s", stderr)
	}
}

func TestCIGitHubAnnotations(t *testing.T) {
	t.Parallel()
	dir, rec := ciRecorded(t)
	// Host a fails among the others, then alone with its located error.
	rec.RegisterStub(testutil.EvalStub(map[string]testutil.EvalAnswer{"a": {Failed: true}}))
	rec.RegisterStub(&execx.Stub{Prefix: nix.EvalDrvPath(dir, nix.ToplevelAttr("a")), ExitCode: 1,
		Stderr: `@nix {"action":"msg","column":5,"file":"` + dir + `/hosts/a.nix","level":0,"line":3,"msg":"error: undefined variable 'pkgs'","raw_msg":"undefined variable 'pkgs'"}` + "\n"})
	code, stdout, _ := ciRun(t, dir, map[string]string{"GITHUB_ACTIONS": "true"}, rec, "ci", "--no-build")
	if code != exitcode.Eval {
		t.Fatalf("exit %d, want %d", code, exitcode.Eval)
	}
	want := "::error file=hosts/a.nix,line=3,col=5,title=nixctl ci evaluate%3A host a::undefined variable 'pkgs'\n"
	if stdout != want {
		t.Errorf("stdout = %q\nwant     %q", stdout, want)
	}
	if slices.ContainsFunc(rec.Argvs(), func(a string) bool { return strings.HasPrefix(a, "nix build") }) {
		t.Error("--no-build built")
	}
}

func TestCIUnknownDeploySelectorIsAUsageError(t *testing.T) {
	t.Parallel()
	dir, _ := ciRecorded(t)
	code, _, stderr := ciRun(t, dir, nil, &execx.Recorder{Paths: map[string]string{"nix": "/usr/bin/nix"}}, "ci", "--deploy", "nope")
	if code != exitcode.Usage || !strings.Contains(stderr, "nope") {
		t.Errorf("exit %d\n%s", code, stderr)
	}
}

func TestCIInitWritesAndRefusesToOverwrite(t *testing.T) {
	t.Parallel()
	dir, _ := ciRecorded(t)
	path := filepath.Join(dir, ".github", "workflows", "nixctl.yml")
	before := testutil.Tree(t, dir)
	code, stdout, stderr := ciRun(t, dir, nil, nil, "--dry-run", "ci", "init", "github")
	if code != 0 {
		t.Fatalf("--dry-run: exit %d\n%s", code, stderr)
	}
	wantChanges(t, "ci init --dry-run", stdout,
		"mkdir "+filepath.Join(dir, ".github")+" (mode 0755)",
		"mkdir "+filepath.Join(dir, ".github", "workflows")+" (mode 0755)",
		"write "+path+" (mode 0644, ")
	testutil.SameTree(t, "ci init --dry-run", before, testutil.Tree(t, dir))

	code, stdout, stderr = ciRun(t, dir, nil, nil, "ci", "init", "github")
	if code != 0 || strings.TrimSpace(stdout) != path {
		t.Fatalf("exit %d stdout %q\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stderr, "flake.lock has no nixctl input") {
		t.Errorf("no hint about pinning nixctl:\n%s", stderr)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(data, &doc); err != nil || doc["jobs"] == nil {
		t.Fatalf("not a workflow: %v\n%s", err, data)
	}
	if err := os.WriteFile(path, []byte("mine\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = ciRun(t, dir, nil, nil, "ci", "init", "github")
	if code != exitcode.Failure || !strings.Contains(stderr, "will not overwrite") || !strings.Contains(stderr, "--force") {
		t.Errorf("second init: exit %d\n%s", code, stderr)
	}
	if data, _ := os.ReadFile(path); string(data) != "mine\n" {
		t.Errorf("file overwritten without --force")
	}
	if code, _, stderr = ciRun(t, dir, nil, nil, "ci", "init", "github", "--force"); code != 0 {
		t.Errorf("--force: exit %d\n%s", code, stderr)
	}
	if code, _, stderr = ciRun(t, dir, nil, nil, "ci", "init", "jenkins"); code != exitcode.Usage || !strings.Contains(stderr, "forgejo|github|gitlab") {
		t.Errorf("unknown platform: exit %d\n%s", code, stderr)
	}
}

func TestCIInvalidInventoryStillChecksTheFlake(t *testing.T) {
	t.Parallel()
	dir := testutil.WriteTree(t, map[string]string{
		"nixctl.yaml": "hosts:\n  - name: a\n    adress: 192.0.2.1\n",
		"flake.nix":   "{ outputs = { self }: { }; }\n",
	})
	rec := &execx.Recorder{Paths: map[string]string{"nix": "/usr/bin/nix"}}
	rec.Register(nix.EvalPositions(dir, []string{"checks"}, 2), `{}`, 0)
	rec.Register([]string{"nix", "flake", "check", dir}, "", 0)
	report := filepath.Join(t.TempDir(), "r.xml")
	code, _, stderr := ciRun(t, dir, nil, rec, "ci", "--junit", report)
	if code != exitcode.Inventory {
		t.Fatalf("exit %d, want %d\n%s", code, exitcode.Inventory, stderr)
	}
	rec.Verify(t)
	doc := readJUnit(t, report)
	fails := doc.failures()
	if len(fails) != 1 || !strings.HasPrefix(fails["inventory/inventory nixctl.yaml"], "nixctl.yaml:2: hosts[0] (a).address: required") || !strings.HasSuffix(fails["inventory/inventory nixctl.yaml"], "(and 1 more)") {
		t.Errorf("failures = %v, want the inventory's problem with its line", fails)
	}
	for _, s := range doc.Suites {
		if s.Name == "evaluate" && s.Skipped != 1 {
			t.Errorf("evaluate should be skipped without an inventory: %+v", s)
		}
	}
}

func TestCIFlakeCheckErrorAboutAHostIsReportedOnceByEvaluate(t *testing.T) {
	t.Parallel()
	dir, rec := ciRecorded(t)
	rec.RegisterStub(&execx.Stub{Prefix: []string{"nix", "flake", "check", dir}, ExitCode: 1,
		Stderr: `@nix {"action":"msg","level":0,"msg":"error: the option 'boot.loader.grub.device' is not set\n\n       … while checking NixOS configuration 'nixosConfigurations.a'\n\n       at ` + dir + `/hosts/a.nix:7:3:"}` + "\n"})
	report := filepath.Join(t.TempDir(), "r.xml")
	code, _, stderr := ciRun(t, dir, nil, rec, "ci", "--no-build", "--junit", report)
	if code != exitcode.Eval {
		t.Fatalf("exit %d, want %d (evaluate)\n%s", code, exitcode.Eval, stderr)
	}
	fails := readJUnit(t, report).failures()
	if len(fails) != 1 || fails["evaluate/host a"] != "hosts/a.nix:7:3: the option 'boot.loader.grub.device' is not set" {
		t.Errorf("failures = %v, want the flake check's error once, on host a", fails)
	}
}

// Nix 2.8 with --keep-going can leave the last failure out of its output:
// an item no message names is built again alone to learn its own result.
func TestCIBuildFailureNobodyNamedIsBuiltAlone(t *testing.T) {
	t.Parallel()
	dir, rec := ciRecorded(t)
	calls := 0
	rec.RegisterStub(&execx.Stub{Prefix: []string{"nix", "build", "--no-link", "--json"}, Func: func(c execx.Cmd) (string, int) {
		calls++
		if calls == 1 {
			return "", 1
		}
		return `[{"drvPath":"/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-nixos-system-a.drv","outputs":{"out":"/nix/store/c-a"}}]`, 0
	}})
	code, _, stderr := ciRun(t, dir, nil, rec, "ci")
	if code != exitcode.OK {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	var builds []string
	for _, a := range rec.Argvs() {
		if strings.HasPrefix(a, "nix build") {
			builds = append(builds, a)
		}
	}
	if len(builds) != 2 || !strings.HasSuffix(builds[1], dir+"#nixosConfigurations.a.config.system.build.toplevel") {
		t.Errorf("builds = %q, want the combined one then host a alone", builds)
	}
}

func TestCIInitDeployAddsTheJobForTheSelectedHosts(t *testing.T) {
	t.Parallel()
	dir, _ := ciRecorded(t)
	for _, platform := range []string{"github", "gitlab", "forgejo"} {
		code, stdout, stderr := ciRun(t, dir, nil, nil, "ci", "init", platform, "--deploy", "a", "-o", platform+".yml")
		if code != 0 {
			t.Fatalf("%s: exit %d\n%s", platform, code, stderr)
		}
		data, err := os.ReadFile(strings.TrimSpace(stdout))
		if err != nil {
			t.Fatal(err)
		}
		var doc map[string]any
		if err := yaml.Unmarshal(data, &doc); err != nil {
			t.Fatalf("%s: %v", platform, err)
		}
		job := doc["nixctl-deploy"]
		if jobs, ok := doc["jobs"].(map[string]any); ok {
			job = jobs["deploy"]
		}
		if job == nil || !strings.Contains(string(data), "' nixctl-deploy 'a'\n") {
			t.Errorf("%s: no deploy job for a:\n%s", platform, data)
		}
		if !strings.Contains(stderr, "then add the secrets NIXCTL_SSH_KEY, NIXCTL_KNOWN_HOSTS, SOPS_AGE_KEY") {
			t.Errorf("%s: the user is not told which secrets to add:\n%s", platform, stderr)
		}
	}
	// A selector that selects no host, or that is not a plain word, writes
	// nothing.
	for _, bad := range []string{"nope", "a;reboot"} {
		code, _, stderr := ciRun(t, dir, nil, nil, "ci", "init", "github", "--deploy", bad)
		if code != exitcode.Usage || !strings.Contains(stderr, "nixctl: hint: ") {
			t.Errorf("--deploy %q: exit %d\n%s", bad, code, stderr)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, ".github")); err == nil {
		t.Error("a refused --deploy wrote a workflow")
	}
}

// ci has a --json FILE of its own. A global --json before ci is the global
// flag (ci init prints its result as JSON, ci its report on stdout), and a
// --json FILE followed by a flag is refused instead of writing a report
// named after the flag.
func TestCIJSONFlagAndTheGlobalOne(t *testing.T) {
	t.Parallel()
	dir, _ := ciRecorded(t)
	before := testutil.Tree(t, dir)
	code, stdout, stderr := ciRun(t, dir, nil, nil, "--json", "--dry-run", "ci", "init", "github")
	// The dry run's steps go to stderr: stdout is the one document.
	var doc map[string]any
	if code != 0 || json.Unmarshal([]byte(stdout), &doc) != nil || doc["platform"] != "github" || !strings.Contains(stderr, "write "+filepath.Join(dir, ".github", "workflows", "nixctl.yml")) {
		t.Errorf("--json ci init github: exit %d\n%s%s", code, stdout, stderr)
	}
	code, stdout, stderr = ciRun(t, dir, nil, &execx.Recorder{Paths: map[string]string{"nix": "/usr/bin/nix"}}, "ci", "--json", "--dry-run")
	if code != exitcode.Usage || !strings.Contains(stderr, "nixctl: error: --json --dry-run: that is a flag, not a file name") || stdout != "" {
		t.Errorf("ci --json --dry-run: exit %d\n%s%s", code, stdout, stderr)
	}
	testutil.SameTree(t, "ci --json --dry-run", before, testutil.Tree(t, dir))
}
