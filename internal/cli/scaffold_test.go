package cli

import (
	"bytes"
	"encoding/json"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nixctl/nixctl/internal/execx"
	"github.com/nixctl/nixctl/internal/scaffold"
	"github.com/nixctl/nixctl/internal/testutil"
	"github.com/nixctl/nixctl/internal/ui"
)

type cliResult struct {
	code        int
	out, errOut string
}

// runWith runs nixctl in-process in dir with env as its environment, like
// runIn, but with any runner: nil is the real one (tests with real nix).
func runWith(t *testing.T, dir string, env map[string]string, runner execx.Runner, args ...string) cliResult {
	t.Helper()
	if _, ok := env["SOPS_AGE_KEY_FILE"]; !ok {
		// init finds or makes the user's age key: never the real one.
		env = maps.Clone(env)
		if env == nil {
			env = map[string]string{}
		}
		env["SOPS_AGE_KEY_FILE"] = filepath.Join(t.TempDir(), "keys.txt")
	}
	var out, errb bytes.Buffer
	code := runDeps(testDeps(dir, env, runner, ui.Stdio{In: strings.NewReader(""), Out: &out, Err: &errb}), args...)
	return cliResult{code, out.String(), errb.String()}
}

func treeOf(t *testing.T, dir string) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		files[rel] = info.ModTime().String() + string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func TestInitCommand(t *testing.T) {
	t.Parallel()
	parent := t.TempDir()
	env := map[string]string{"USER": "alice"}
	r := runWith(t, parent, env, nil, "init", "myfleet", "--host", "mini", "--address", "10.0.0.7")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.errOut)
	}
	dir := filepath.Join(parent, "myfleet")
	for _, want := range []string{"created myfleet", "user alice, host mini at 10.0.0.7, release 25.05", "  cd myfleet\n", "  nixctl check"} {
		if !strings.Contains(r.out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, r.out)
		}
	}
	if n := strings.Count(r.out[strings.Index(r.out, "Next:"):], "\n  "); n != 3 {
		t.Errorf("printed %d next commands, want 3:\n%s", n, r.out)
	}
	if _, err := os.Stat(filepath.Join(dir, "hosts/mini/configuration.nix")); err != nil {
		t.Error(err)
	}
	r = runWith(t, dir, env, nil, "inventory", "check", "--no-eval")
	if r.code != 0 || !strings.Contains(r.out, "1 host, 3 profiles") {
		t.Errorf("inventory check --no-eval: exit %d\n%s%s", r.code, r.out, r.errOut)
	}

	// Twice: refused with every conflict listed, and nothing changes.
	before := treeOf(t, dir)
	r = runWith(t, parent, env, nil, "init", "myfleet", "--host", "mini", "--address", "10.0.0.7")
	if r.code != 1 || !strings.Contains(r.errOut, "nothing was written") || !strings.Contains(r.errOut, "hosts/mini/configuration.nix") || !strings.Contains(r.errOut, "nixctl: hint:") {
		t.Errorf("second init: exit %d\n%s", r.code, r.errOut)
	}
	after := treeOf(t, dir)
	if len(after) != len(before) {
		t.Errorf("files: %d before, %d after", len(before), len(after))
	}
	for k, v := range before {
		if after[k] != v {
			t.Errorf("%s changed", k)
		}
	}
}

func TestInitRefusesBadInput(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		env  map[string]string
		args []string
		want string
	}{
		{map[string]string{}, []string{"init", "x"}, "pass --user NAME"},
		{map[string]string{"USER": "root"}, []string{"init", "x"}, "pass --user NAME"},
		{map[string]string{"USER": "alice"}, []string{"init", "x", "--host", "../etc"}, "--host"},
		{map[string]string{"USER": "alice"}, []string{"init", "x", "--address", "1.2.3.4;reboot"}, "--address"},
		{map[string]string{"USER": "alice"}, []string{"init", "x", "--release", "23.11"}, "--release"},
		{map[string]string{"USER": "alice"}, []string{"init", "x", "y"}, "one directory"},
	} {
		dir := t.TempDir()
		r := runWith(t, dir, tc.env, nil, tc.args...)
		if r.code != 2 || !strings.Contains(r.errOut, tc.want) || !strings.Contains(r.errOut, "nixctl: hint:") {
			t.Errorf("%v: exit %d, stderr %q, want 2 and %q", tc.args, r.code, r.errOut, tc.want)
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 0 {
			t.Errorf("%v wrote %d entries", tc.args, len(entries))
		}
	}
}

func TestInitGitAddsTheFiles(t *testing.T) {
	t.Parallel()
	parent := t.TempDir()
	rec := &execx.Recorder{Paths: map[string]string{"git": "/usr/bin/git"}}
	dir := filepath.Join(parent, "f")
	var added []string
	rec.Register([]string{"git", "init", "--quiet"}, "", 0)
	rec.RegisterStub(&execx.Stub{Prefix: []string{"git", "add", "--"}, Func: func(c execx.Cmd) (string, int) {
		if c.Dir != dir {
			t.Errorf("git add ran in %q, want %q", c.Dir, dir)
		}
		added = c.Argv[3:]
		return "", 0
	}})
	r := runWith(t, parent, map[string]string{"USER": "alice"}, rec, "--json", "init", "f", "--git")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.errOut)
	}
	rec.Verify(t)
	var res struct {
		Files []string `json:"files"`
		Next  []string `json:"next"`
	}
	if err := json.Unmarshal([]byte(r.out), &res); err != nil {
		t.Fatalf("%v: %s", err, r.out)
	}
	if strings.Join(added, " ") != strings.Join(res.Files, " ") || len(added) < 20 {
		t.Errorf("git add %v, want the %d written files", added, len(res.Files))
	}
	if len(res.Next) != 3 || !strings.HasPrefix(res.Next[1], "nix flake lock") {
		t.Errorf("next = %q", res.Next)
	}
}

func TestInitDryRunWritesNothing(t *testing.T) {
	t.Parallel()
	parent, home := t.TempDir(), t.TempDir()
	keyFile := filepath.Join(home, "age", "keys.txt")
	rec := &execx.Recorder{Paths: map[string]string{"git": "/usr/bin/git"}}
	r := runWith(t, parent, map[string]string{"USER": "alice", "HOME": home, "SOPS_AGE_KEY_FILE": keyFile}, rec, "--dry-run", "init", "f", "--git")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.errOut)
	}
	if !strings.Contains(r.out, "would create f") {
		t.Errorf("stdout:\n%s", r.out)
	}
	// The key is not made: no recipient of a key that will never exist.
	if !strings.Contains(r.errOut, "would create your age key "+keyFile+"\n") || strings.Contains(r.errOut, "created your age key") {
		t.Errorf("a dry run must say it would create the key, not that it did:\n%s", r.errOut)
	}
	// Every step, in the order the real run takes them: the user's key,
	// the template's files (each folder before its first file), then git.
	f := filepath.Join(parent, "f")
	wantChanges(t, "init --dry-run", r.out,
		"mkdir "+filepath.Join(home, "age")+" (mode 0700)",
		"create "+keyFile+" (mode 0600, ",
		"mkdir "+f+" (mode 0755)",
		"create "+filepath.Join(f, ".gitignore")+" (mode 0644, ",
		"create "+filepath.Join(f, ".sops.yaml")+" (mode 0644, ",
		"create "+filepath.Join(f, "README.md")+" (mode 0644, ",
		"create "+filepath.Join(f, "flake.nix")+" (mode 0644, ",
		"mkdir "+filepath.Join(f, "home")+" (mode 0755)",
		"create "+filepath.Join(f, "home", "common.nix")+" (mode 0644, ",
		"mkdir "+filepath.Join(f, "home", "config")+" (mode 0755)",
		"create "+filepath.Join(f, "home", "config", "tmux.conf")+" (mode 0644, ",
		"create "+filepath.Join(f, "home", "desktop.nix"),
		"create "+filepath.Join(f, "home", "graphical.nix"),
		"create "+filepath.Join(f, "home", "laptop.nix"),
		"mkdir "+filepath.Join(f, "home", "programs"),
		"create "+filepath.Join(f, "home", "programs", "atuin.nix"),
		"create "+filepath.Join(f, "home", "programs", "cli.nix"),
		"create "+filepath.Join(f, "home", "programs", "tmux.nix"),
		"create "+filepath.Join(f, "home", "programs", "wezterm.nix"),
		"create "+filepath.Join(f, "home", "programs", "zsh.nix"),
		"mkdir "+filepath.Join(f, "home", "server"),
		"create "+filepath.Join(f, "home", "server", "common.nix"),
		"mkdir "+filepath.Join(f, "hosts")+" (mode 0755)",
		"mkdir "+filepath.Join(f, "hosts", "nixos-mini")+" (mode 0755)",
		"create "+filepath.Join(f, "hosts", "nixos-mini", "configuration.nix"),
		"create "+filepath.Join(f, "hosts", "nixos-mini", "hardware-configuration.nix"),
		"mkdir "+filepath.Join(f, "modules"),
		"mkdir "+filepath.Join(f, "modules", "server"),
		"create "+filepath.Join(f, "modules", "server", "base.nix"),
		"create "+filepath.Join(f, "modules", "server", "k0s.nix"),
		"create "+filepath.Join(f, "modules", "server", "networking.nix"),
		"create "+filepath.Join(f, "modules", "server", "node-exporter.nix"),
		"create "+filepath.Join(f, "nixctl.yaml")+" (mode 0644, ")
	last := strings.Index(r.out, "create "+filepath.Join(f, "nixctl.yaml"))
	gitInit := strings.Index(r.out, "(cd "+f+" && git init --quiet)\n")
	gitAdd := strings.Index(r.out, "(cd "+f+" && git add -- .gitignore ")
	if last < 0 || gitInit < last || gitAdd < gitInit {
		t.Errorf("git init and git add should follow the files:\n%s", r.out)
	}
	if entries, err := os.ReadDir(parent); err != nil || len(entries) != 0 {
		t.Errorf("--dry-run wrote %v (%v)", entries, err)
	}
	if entries, err := os.ReadDir(home); err != nil || len(entries) != 0 {
		t.Errorf("--dry-run wrote %v in HOME (%v)", entries, err)
	}
	if len(rec.Calls()) != 0 {
		t.Errorf("--dry-run ran %v", rec.Argvs())
	}
}

// stubInputs points a fleet made by nixctl init at the stand-ins in
// testdata/stub-inputs: the template's own flake.nix, evaluated offline.
func stubInputs(t *testing.T, fleet string) {
	t.Helper()
	stubs := testutil.CopyDir(t, "testdata/stub-inputs")
	p := filepath.Join(fleet, "flake.nix")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for url, stub := range map[string]string{
		"github:NixOS/nixpkgs/nixos-25.05":                "nixpkgs",
		"github:nix-community/home-manager/release-25.05": "home-manager",
		"github:nix-community/nixGL":                      "nixgl",
		"github:Mic92/sops-nix":                           "sops-nix",
		"github:nixctl/nixctl":                            "nixctl",
	} {
		if !strings.Contains(s, `"`+url+`"`) {
			t.Fatalf("flake.nix no longer has the input %s", url)
		}
		s = strings.Replace(s, `"`+url+`"`, `"path:`+filepath.Join(stubs, stub)+`"`, 1)
	}
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

// host add, then inventory check with real nix: the new host is in the
// inventory and in the flake's nixosConfigurations, and its file evaluates.
func TestHostAddThenInventoryCheck(t *testing.T) {
	testutil.Require(t, "nix")
	parent := t.TempDir()
	env := map[string]string{"USER": "alice", "HOME": os.Getenv("HOME"), "PATH": os.Getenv("PATH")}
	if r := runWith(t, parent, env, nil, "init", "fleet", "--host", "mini", "--address", "10.0.0.7"); r.code != 0 {
		t.Fatalf("init: exit %d: %s", r.code, r.errOut)
	}
	fleet := filepath.Join(parent, "fleet")
	stubInputs(t, fleet)

	r := runWith(t, fleet, env, nil, "host", "add", "web-1", "--address", "10.0.0.8", "--tags", "web")
	if r.code != 0 {
		t.Fatalf("host add: exit %d: %s", r.code, r.errOut)
	}
	for _, want := range []string{"added host web-1", "create hosts/web-1/configuration.nix", "edit   flake.nix", "edit   nixctl.yaml"} {
		if !strings.Contains(r.out, want) {
			t.Errorf("host add stdout lacks %q:\n%s", want, r.out)
		}
	}
	if r := runWith(t, fleet, env, nil, "profile", "add", "web", "--host", "web-1"); r.code != 0 {
		t.Fatalf("profile add: exit %d: %s", r.code, r.errOut)
	}

	r = runWith(t, fleet, env, nil, "--json", "inventory", "check")
	if r.code != 0 {
		t.Fatalf("inventory check: exit %d\n%s\n%s", r.code, r.out, r.errOut)
	}
	var res struct {
		OK       bool  `json:"ok"`
		Hosts    int   `json:"hosts"`
		Profiles int   `json:"profiles"`
		Missing  []any `json:"missing"`
		Unlisted []any `json:"unlisted"`
	}
	if err := json.Unmarshal([]byte(r.out), &res); err != nil {
		t.Fatalf("%v: %s", err, r.out)
	}
	if !res.OK || res.Hosts != 2 || res.Profiles != 4 || len(res.Missing) != 0 || len(res.Unlisted) != 0 {
		t.Errorf("inventory check = %+v", res)
	}

	// The host's entry reads hosts/web-1/configuration.nix: evaluating it
	// proves the file is where flake.nix looks.
	r = runWith(t, fleet, env, nil, "check", "--no-build", "web-1", "web")
	if r.code != 0 {
		t.Errorf("check web-1: exit %d\n%s\n%s", r.code, r.out, r.errOut)
	}
	if err := os.Remove(filepath.Join(fleet, "hosts/web-1/configuration.nix")); err != nil {
		t.Fatal(err)
	}
	if r := runWith(t, fleet, env, nil, "check", "--no-build", "web-1"); r.code == 0 {
		t.Error("check passed without hosts/web-1/configuration.nix: the test proves nothing")
	}
}

// With real git: every written file is tracked, so a flake sees it.
func TestInitGitWithRealGit(t *testing.T) {
	t.Parallel()
	testutil.Require(t, "git")
	parent := t.TempDir()
	env := map[string]string{"USER": "alice", "HOME": parent, "PATH": os.Getenv("PATH")}
	r := runWith(t, parent, env, nil, "init", "f", "--git")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.errOut)
	}
	out, err := exec.Command("git", "-C", filepath.Join(parent, "f"), "ls-files").Output()
	if err != nil {
		t.Fatal(err)
	}
	tracked := strings.Fields(string(out))
	if len(tracked) != len(treeOf(t, filepath.Join(parent, "f")))-countUnder(t, filepath.Join(parent, "f", ".git")) {
		t.Errorf("git tracks %d files: %v", len(tracked), tracked)
	}
	for _, want := range []string{"flake.nix", "nixctl.yaml", ".sops.yaml", "home/common.nix", "hosts/nixos-mini/configuration.nix"} {
		if !slices.Contains(tracked, want) {
			t.Errorf("%s is not tracked", want)
		}
	}
}

func countUnder(t *testing.T, dir string) int {
	t.Helper()
	n := 0
	_ = filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			n++
		}
		return nil
	})
	return n
}

func TestHostAddDryRunWritesNothing(t *testing.T) {
	t.Parallel()
	parent := t.TempDir()
	env := map[string]string{"USER": "alice"}
	if r := runWith(t, parent, env, nil, "init", "f"); r.code != 0 {
		t.Fatalf("init: %s", r.errOut)
	}
	dir := filepath.Join(parent, "f")
	before := testutil.Tree(t, dir)
	r := runWith(t, dir, env, nil, "--dry-run", "host", "add", "web-1", "--address", "10.0.0.8")
	if r.code != 0 || !strings.Contains(r.out, "would add host web-1") || !strings.Contains(r.out, "edit   nixctl.yaml") {
		t.Errorf("exit %d\n%s%s", r.code, r.out, r.errOut)
	}
	// The new files, then the two edits, as Apply makes them.
	wantChanges(t, "host add --dry-run", r.out,
		"mkdir "+filepath.Join(dir, "hosts", "web-1")+" (mode 0755)",
		"create "+filepath.Join(dir, "hosts", "web-1", "configuration.nix")+" (mode 0644, ",
		"create "+filepath.Join(dir, "hosts", "web-1", "hardware-configuration.nix")+" (mode 0644, ",
		"write "+filepath.Join(dir, "flake.nix")+" (mode 0644, ",
		"write "+filepath.Join(dir, "nixctl.yaml")+" (mode 0644, ")
	testutil.SameTree(t, "host add --dry-run", before, testutil.Tree(t, dir))

	r = runWith(t, dir, env, nil, "--dry-run", "profile", "add", "node", "--host", "nixos-mini")
	if r.code != 0 || !strings.Contains(r.out, "would add profile node") {
		t.Errorf("exit %d\n%s%s", r.code, r.out, r.errOut)
	}
	wantChanges(t, "profile add --dry-run", r.out,
		"create "+filepath.Join(dir, "home", "node.nix")+" (mode 0644, ",
		"write "+filepath.Join(dir, "flake.nix")+" (mode 0644, ",
		"write "+filepath.Join(dir, "nixctl.yaml")+" (mode 0644, ")
	testutil.SameTree(t, "profile add --dry-run", before, testutil.Tree(t, dir))
}

// A fleet fresh from nixctl init is green from its first commit: .sops.yaml
// holds the user's key (made where sops looks for it, or found there), no
// plaintext sits in secrets/, and verify and the offline ci stages pass.
func TestInitFleetIsGreenFromTheStart(t *testing.T) {
	testutil.Require(t, "nix")
	parent, home := t.TempDir(), t.TempDir()
	keyFile := filepath.Join(home, ".config", "sops", "age", "keys.txt")
	env := map[string]string{"USER": "alice", "HOME": home, "PATH": os.Getenv("PATH"), "SOPS_AGE_KEY_FILE": keyFile}
	r := runWith(t, parent, env, nil, "init", "fleet", "--host", "mini", "--address", "10.0.0.7")
	if r.code != 0 {
		t.Fatalf("init: exit %d: %s", r.code, r.errOut)
	}
	fleet := filepath.Join(parent, "fleet")
	key, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatalf("init made no age key: %v", err)
	}
	recipient := recipientRe.FindString(string(key))
	cfg := readFile(t, filepath.Join(fleet, ".sops.yaml"))
	if recipient == "" || !strings.Contains(cfg, "- &alice "+recipient+"\n") || strings.Contains(cfg, scaffold.TemplateNames.Recipient) {
		t.Errorf(".sops.yaml lacks the user's key %s:\n%s", recipient, cfg)
	}
	if !strings.Contains(r.errOut, "created your age key "+keyFile) {
		t.Errorf("init did not say it made a key: %s", r.errOut)
	}
	for _, name := range []string{".sops.yaml", "README.md"} {
		if text := readFile(t, filepath.Join(fleet, name)); strings.Contains(text, "updatekeys") || strings.Contains(text, "ssh-to-age") || !strings.Contains(text, "nixctl secrets") {
			t.Errorf("%s names hand-run sops commands, not nixctl's", name)
		}
	}
	if _, err := os.Stat(filepath.Join(fleet, "secrets")); !os.IsNotExist(err) {
		t.Errorf("secrets/ holds placeholders: %v", err)
	}
	if r := runWith(t, fleet, env, nil, "secrets", "verify"); r.code != 0 {
		t.Errorf("secrets verify: exit %d\n%s%s", r.code, r.out, r.errOut)
	}

	stubInputs(t, fleet)
	counter := &countingRunner{Runner: execx.NewReal()}
	r = runWith(t, fleet, env, counter, "ci", "--no-build", "--json", "-")
	// The evaluate stage reads the sops declarations the secrets-access
	// stage checks: one nix process evaluates every machine.
	if counter.machines != 1 {
		t.Errorf("ci evaluated the machines in %d nix processes, want 1", counter.machines)
	}
	var rep struct {
		Stages []struct{ Name, Status string } `json:"stages"`
	}
	if err := json.Unmarshal([]byte(r.out), &rep); err != nil {
		t.Fatalf("ci --json: %v\n%s%s", err, r.out, r.errOut)
	}
	var got []string
	for _, s := range rep.Stages {
		got = append(got, s.Name+":"+s.Status)
	}
	if want := "inventory:passed secrets:passed flake:passed evaluate:passed secrets-access:passed build:skipped"; strings.Join(got, " ") != want || r.code != 0 {
		t.Errorf("ci stages: exit %d\n got %s\nwant %s\n%s", r.code, strings.Join(got, " "), want, r.errOut)
	}

	// Another fleet on the same machine finds the key and makes none.
	r = runWith(t, parent, env, nil, "init", "second")
	if r.code != 0 || strings.Contains(r.errOut, "created your age key") || !strings.Contains(readFile(t, filepath.Join(parent, "second", ".sops.yaml")), recipient) {
		t.Errorf("second init: exit %d %s", r.code, r.errOut)
	}
}
