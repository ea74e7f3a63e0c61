package cli

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/nixctl/nixctl/internal/execx"
	"github.com/nixctl/nixctl/internal/exitcode"
	"github.com/nixctl/nixctl/internal/testutil"
)

// countingRunner is the real runner, counting the nix evaluations it
// starts, and among them those of hosts and profiles (sops declarations
// included): the expressions that evaluate many machines at once.
type countingRunner struct {
	execx.Runner
	mu       sync.Mutex
	evals    int
	machines int
}

func (c *countingRunner) Run(ctx context.Context, cmd execx.Cmd) (*execx.Result, error) {
	if len(cmd.Argv) > 1 && cmd.Argv[0] == "nix" && cmd.Argv[1] == "eval" {
		c.mu.Lock()
		c.evals++
		if strings.Contains(strings.Join(cmd.Argv, " "), "nixctl-eval") {
			c.machines++
		}
		c.mu.Unlock()
	}
	return c.Runner.Run(ctx, cmd)
}

// seedRepo copies the seed-shaped fixture into a git repository (the seed's
// is one; nix then sees only what git tracks).
func seedRepo(t *testing.T) string {
	t.Helper()
	testutil.Require(t, "nix", "git")
	dir := testutil.CopyDir(t, "testdata/seedflake")
	for _, argv := range [][]string{{"git", "init", "--quiet"}, {"git", "add", "-A"}} {
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%v: %v\n%s", argv, err, out)
		}
	}
	return dir
}

// worktree snapshots every file outside .git.
func worktree(t *testing.T, dir string) map[string]string {
	t.Helper()
	files := treeOf(t, dir)
	for k := range files {
		if strings.HasPrefix(k, ".git"+string(filepath.Separator)) {
			delete(files, k)
		}
	}
	return files
}

func adoptEnv(t *testing.T, sshConfig string) map[string]string {
	home := t.TempDir()
	if sshConfig != "" {
		if err := os.MkdirAll(filepath.Join(home, ".ssh"), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(home, ".ssh", "config"), []byte(sshConfig), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return map[string]string{"HOME": home, "PATH": os.Getenv("PATH"), "USER": "gabriel"}
}

func TestAdoptSeedRepository(t *testing.T) {
	dir := seedRepo(t)
	env := adoptEnv(t, `# the user's own
Host *.example
  User nobody

Host nixos-mini
  HostName 192.168.1.20
  Port 2222
  User gabriel
  IdentityFile ~/.ssh/id_mini
`)
	before := worktree(t, dir)

	// Without an inventory every command points at --adopt, and so does init.
	r := runWith(t, filepath.Join(dir, "hosts"), env, nil, "inventory", "list")
	if r.code != exitcode.Inventory || !strings.Contains(r.errOut, "has flake.nix but no nixctl.yaml") || !strings.Contains(r.errOut, "hint: run 'nixctl init --adopt' there") {
		t.Errorf("inventory list: exit %d\n%s", r.code, r.errOut)
	}
	r = runWith(t, dir, env, nil, "init", ".")
	if r.code == 0 || !strings.Contains(r.errOut, "nixctl init --adopt") {
		t.Errorf("init .: exit %d\n%s", r.code, r.errOut)
	}

	runner := &countingRunner{Runner: execx.NewReal()}
	r = runWith(t, dir, env, runner, "init", "--adopt")
	if r.code != 0 {
		t.Fatalf("init --adopt: exit %d\n%s%s", r.code, r.out, r.errOut)
	}
	if runner.evals != 1 {
		t.Errorf("init --adopt ran %d nix evaluations, want one for every output", runner.evals)
	}
	inv, err := os.ReadFile(filepath.Join(dir, "nixctl.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"hosts:\n  - name: nixos-mini\n    attr: nixos-mini\n",
		// The alias: nixctl follows ~/.ssh/config to it as ssh does.
		"    address: nixos-mini  # guessed: Host nixos-mini in ~/.ssh/config, gabriel@192.168.1.20:2222\n",
		"  - name: laptop\n    attr: laptop\n    user: gabriel  # guessed: home.username of homeConfigurations.laptop\n",
		"  - name: desktop\n    attr: desktop\n    user: gabriel  # guessed:",
		"  - name: server\n    attr: server\n    user: myuser  # guessed: home.username of homeConfigurations.server\n",
	} {
		if !strings.Contains(string(inv), want) {
			t.Errorf("nixctl.yaml lacks %q:\n%s", want, inv)
		}
	}
	if !strings.Contains(r.out, "wrote "+filepath.Join(dir, "nixctl.yaml")+": 1 host, 3 profiles") || !strings.Contains(r.out, "host nixos-mini (nixos-mini): guessed address nixos-mini") {
		t.Errorf("stdout:\n%s", r.out)
	}

	// Only nixctl.yaml is new; nothing else was touched (no flake.lock either).
	after := worktree(t, dir)
	delete(after, "nixctl.yaml")
	if len(after) != len(before) {
		t.Errorf("%d files before, %d after (besides nixctl.yaml)", len(before), len(after))
	}
	for k, v := range before {
		if after[k] != v {
			t.Errorf("%s changed", k)
		}
	}

	// The result agrees with the flake, by real nix.
	r = runWith(t, dir, env, nil, "--json", "inventory", "check")
	var res struct {
		OK       bool  `json:"ok"`
		Unlisted []any `json:"unlisted"`
	}
	if err := json.Unmarshal([]byte(r.out), &res); r.code != 0 || err != nil || !res.OK || len(res.Unlisted) != 0 {
		t.Errorf("inventory check: exit %d %v\n%s%s", r.code, err, r.out, r.errOut)
	}

	// The alias leads where ssh would take it.
	r = runWith(t, dir, env, nil, "inventory", "list")
	if r.code != 0 || !strings.Contains(r.out, "nixos-mini (gabriel@192.168.1.20:2222)") {
		t.Errorf("inventory list: exit %d\n%s%s", r.code, r.out, r.errOut)
	}

	// Never replaced.
	r = runWith(t, dir, env, nil, "inventory", "init")
	if r.code != exitcode.Usage || !strings.Contains(r.errOut, "already exists") || !strings.Contains(r.errOut, "nixctl inventory sync") {
		t.Errorf("second adopt: exit %d\n%s", r.code, r.errOut)
	}
}

// Without ~/.ssh/config the address comes from the flake: networking.fqdn
// throws in this configuration (no domain), so networking.hostName is used.
func TestAdoptGuessesFromTheFlakeAlone(t *testing.T) {
	dir := seedRepo(t)
	env := adoptEnv(t, "")
	r := runWith(t, dir, env, nil, "--dry-run", "inventory", "init")
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.errOut)
	}
	if !strings.Contains(r.out, "    address: nixos-mini  # guessed: networking.hostName of nixosConfigurations.nixos-mini\n") {
		t.Errorf("dry-run output:\n%s", r.out)
	}
	if _, err := os.Stat(filepath.Join(dir, "nixctl.yaml")); err == nil {
		t.Error("--dry-run wrote nixctl.yaml")
	}

	// With a domain, the fqdn wins.
	conf := filepath.Join(dir, "hosts/nixos-mini/configuration.nix")
	b, _ := os.ReadFile(conf)
	if err := os.WriteFile(conf, []byte(strings.Replace(string(b), `system.stateVersion`, `networking.domain = "home.arpa";
  system.stateVersion`, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	r = runWith(t, dir, env, nil, "--json", "init", "--adopt")
	var res struct {
		Entries []struct {
			Kind    string `json:"kind"`
			Name    string `json:"name"`
			Guesses []struct{ Key, Value, From string }
		} `json:"entries"`
	}
	if err := json.Unmarshal([]byte(r.out), &res); r.code != 0 || err != nil {
		t.Fatalf("exit %d %v\n%s%s", r.code, err, r.out, r.errOut)
	}
	if len(res.Entries) != 4 || res.Entries[0].Name != "nixos-mini" || len(res.Entries[0].Guesses) != 1 || res.Entries[0].Guesses[0].Value != "nixos-mini.home.arpa" {
		t.Errorf("entries = %+v", res.Entries)
	}
}

func TestInventorySyncAddsOnlyWhatIsNew(t *testing.T) {
	dir := seedRepo(t)
	env := adoptEnv(t, "")
	if r := runWith(t, dir, env, nil, "init", "--adopt"); r.code != 0 {
		t.Fatalf("adopt: exit %d\n%s", r.code, r.errOut)
	}
	// The user edits the inventory: comments, a flow-style entry, an order.
	invPath := filepath.Join(dir, "nixctl.yaml")
	b, _ := os.ReadFile(invPath)
	edited := strings.Replace(string(b), "profiles:\n", "# my machines\nprofiles:   # keep this order\n", 1) +
		"\n# the end of the file, kept\n"
	if err := os.WriteFile(invPath, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	// The flake gains a host and a USER@HOST profile, and loses desktop.
	flakePath := filepath.Join(dir, "flake.nix")
	fb, _ := os.ReadFile(flakePath)
	flake := strings.Replace(string(fb), `        desktop = mkHome ./home/desktop.nix;`, `        "gabriel@work" = mkHome ./home/laptop.nix;`, 1)
	flake = strings.Replace(flake, `        nixos-mini = mkHost "nixos-mini";`, `        nixos-mini = mkHost "nixos-mini";
        web-1 = mkHost "nixos-mini";`, 1)
	if err := os.WriteFile(flakePath, []byte(flake), 0o644); err != nil {
		t.Fatal(err)
	}

	runner := &countingRunner{Runner: execx.NewReal()}
	r := runWith(t, dir, env, runner, "inventory", "sync")
	if r.code != 0 {
		t.Fatalf("sync: exit %d\n%s%s", r.code, r.out, r.errOut)
	}
	if runner.evals != 1 {
		t.Errorf("sync ran %d nix evaluations, want 1", runner.evals)
	}
	got, _ := os.ReadFile(invPath)
	inserted := insertedLines(t, edited, string(got))
	want := []string{
		"  - name: web-1", "    attr: web-1", "    address: nixos-mini  # guessed: networking.hostName of nixosConfigurations.web-1",
		"  - name: work", "    attr: gabriel@work", `    user: gabriel  # guessed: home.username of homeConfigurations."gabriel@work"`,
	}
	if strings.Join(inserted, "\n") != strings.Join(want, "\n") {
		t.Errorf("inserted lines:\n%s\nwant:\n%s\nfile:\n%s", strings.Join(inserted, "\n"), strings.Join(want, "\n"), got)
	}
	if !strings.Contains(r.out, `profile "desktop" names homeConfigurations.desktop, which the flake no longer has`) || !strings.Contains(r.out, "added 2 entries") {
		t.Errorf("stdout:\n%s", r.out)
	}

	// The new entries are right: only desktop is missing now.
	r = runWith(t, dir, env, nil, "--json", "inventory", "check")
	var res struct {
		Missing  []struct{ Name string } `json:"missing"`
		Unlisted []any                   `json:"unlisted"`
	}
	if err := json.Unmarshal([]byte(r.out), &res); r.code != exitcode.Inventory || err != nil || len(res.Missing) != 1 || res.Missing[0].Name != "desktop" || len(res.Unlisted) != 0 {
		t.Errorf("inventory check: exit %d %v %+v\n%s", r.code, err, res, r.errOut)
	}

	// Again: nothing to add, the file is left alone.
	r = runWith(t, dir, env, nil, "inventory", "sync")
	again, _ := os.ReadFile(invPath)
	if r.code != 0 || string(again) != string(got) || !strings.Contains(r.out, "lists every output of the flake") {
		t.Errorf("second sync: exit %d, changed %v\n%s", r.code, string(again) != string(got), r.out)
	}
}

// insertedLines checks that after is before with lines inserted, and
// returns those lines.
func insertedLines(t *testing.T, before, after string) []string {
	t.Helper()
	old := strings.Split(before, "\n")
	var added []string
	j := 0
	for _, l := range strings.Split(after, "\n") {
		if j < len(old) && l == old[j] {
			j++
			continue
		}
		added = append(added, l)
	}
	if j != len(old) {
		t.Errorf("line %d of the original is gone or changed: %q", j+1, old[j])
	}
	return added
}
