package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/nixctl/nixctl/internal/execx"
	"github.com/nixctl/nixctl/internal/exitcode"
	"github.com/nixctl/nixctl/internal/home"
	"github.com/nixctl/nixctl/internal/nix"
	"github.com/nixctl/nixctl/internal/testutil"
)

// homeFixture copies the fixture fleet (testdata/homeflake) into a temp dir
// and makes a home whose generations live in ~/.local/state/nix/profiles.
func homeFixture(t *testing.T) (dir string, env map[string]string) {
	t.Helper()
	testutil.Require(t, "nix", "nix-env")
	dir = testutil.CopyDir(t, filepath.Join("testdata", "homeflake"))
	h := t.TempDir()
	if err := os.MkdirAll(filepath.Join(h, ".local", "state", "nix", "profiles"), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir, map[string]string{"HOME": h, "USER": "gabriel", "XDG_STATE_HOME": ""}
}

// realRun runs argv with the real runner, failing the test on error.
func realRun(t *testing.T, argv ...string) string {
	t.Helper()
	res, err := execx.NewReal().Run(context.Background(), execx.Cmd{Argv: argv})
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(argv, " "), err, res.Stderr)
	}
	return string(res.Stdout)
}

func buildGeneration(t *testing.T, dir string, env map[string]string, profile string) string {
	t.Helper()
	r := runIn(t, dir, nil, env, "home", "build", profile, "--json")
	if r.code != 0 {
		t.Fatalf("home build %s: exit %d: %s", profile, r.code, r.stderr)
	}
	var built []home.Built
	if err := json.Unmarshal([]byte(r.stdout), &built); err != nil || len(built) != 1 {
		t.Fatalf("home build --json: %v\n%s", err, r.stdout)
	}
	return built[0].Path
}

func TestRealHomeBuild(t *testing.T) {
	dir, env := homeFixture(t)
	r := runIn(t, dir, nil, env, "home", "build", "--all")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 2 {
		t.Fatalf("want two profiles:\n%s", r.stdout)
	}
	for i, name := range []string{"laptop", "server"} {
		cols := strings.Split(lines[i], "\t")
		if cols[0] != name || !strings.HasSuffix(cols[1], "-home-manager-generation") {
			t.Errorf("line %d: %q", i, lines[i])
		}
		if st, err := os.Stat(filepath.Join(cols[1], "activate")); err != nil || st.Mode()&0o111 == 0 {
			t.Errorf("%s has no executable activate: %v", cols[1], err)
		}
	}
}

func TestRealHomeBuildFailureNamesTheBuilderAndItsLastLine(t *testing.T) {
	dir, env := homeFixture(t)
	flake, err := os.ReadFile(filepath.Join(dir, "flake.nix"))
	if err != nil {
		t.Fatal(err)
	}
	broken := strings.Replace(string(flake), "        mkdir -p $out/bin\n", "        echo \"compiling ${name}: out of memory\" >&2; exit 3\n", 1)
	testutil.WriteFiles(t, dir, map[string]string{"flake.nix": broken})
	r := runIn(t, dir, nil, env, "home", "build", "laptop")
	if r.code != exitcode.Build {
		t.Fatalf("exit %d, want 9: %s", r.code, r.stderr)
	}
	if !regexp.MustCompile(`nixctl: error: building laptop failed: builder for '/nix/store/\w+-(zsh|atuin)-[0-9.]+\.drv' failed with exit code 3: compiling (zsh|atuin): out of memory\n`).MatchString(r.stderr) {
		t.Errorf("stderr:\n%s", r.stderr)
	}
	if !strings.Contains(r.stderr, "nixctl: hint: nix log /nix/store/") {
		t.Errorf("no nix log hint:\n%s", r.stderr)
	}
}

func TestRealHomeDiffGenerationsRollback(t *testing.T) {
	dir, env := homeFixture(t)
	profile := filepath.Join(env["HOME"], ".local", "state", "nix", "profiles", "home-manager")

	gen1 := buildGeneration(t, dir, env, "laptop")
	realRun(t, "nix-env", "-p", profile, "--set", gen1)

	// The next generation: zsh updated, atuin dropped, ripgrep added.
	testutil.WriteFiles(t, dir, map[string]string{"packages.nix": `{
  zsh = { version = "5.9.1"; size = 100; };
  ripgrep = { version = "14.1.0"; size = 150; };
}`})
	r := runIn(t, dir, nil, env, "home", "diff", "laptop", "--json")
	if r.code != 0 {
		t.Fatalf("home diff: exit %d: %s", r.code, r.stderr)
	}
	var d home.Diff
	if err := json.Unmarshal([]byte(r.stdout), &d); err != nil {
		t.Fatalf("home diff --json: %v\n%s", err, r.stdout)
	}
	if d.Old != gen1 || d.New == gen1 || d.New == "" {
		t.Errorf("old %s new %s, want old %s", d.Old, d.New, gen1)
	}
	kinds := map[string]nix.ClosureChange{}
	for _, c := range d.Changes {
		kinds[c.Package] = c
	}
	if c := kinds["atuin"]; c.Kind != nix.ChangeRemoved || strings.Join(c.Old, ",") != "18.3.0" || c.SizeDelta >= -8*1024 {
		t.Errorf("atuin: %+v", c)
	}
	if c := kinds["ripgrep"]; c.Kind != nix.ChangeAdded || strings.Join(c.New, ",") != "14.1.0" || c.SizeDelta <= 8*1024 {
		t.Errorf("ripgrep: %+v", c)
	}
	if c := kinds["zsh"]; c.Kind != nix.ChangeChanged || strings.Join(c.Old, ",") != "5.9" || strings.Join(c.New, ",") != "5.9.1" {
		t.Errorf("zsh: %+v", c)
	}
	if len(d.Changes) != 3 {
		t.Errorf("changes: %+v", d.Changes)
	}
	if d.OldSize <= 0 || d.NewSize <= 0 || d.SizeDelta != d.NewSize-d.OldSize || d.SizeDelta >= 0 {
		t.Errorf("closure sizes: old %d new %d delta %d", d.OldSize, d.NewSize, d.SizeDelta)
	}
	r = runIn(t, dir, nil, env, "home", "diff", "laptop")
	for _, want := range []string{"laptop: 1 added, 1 removed, 1 changed; closure ", "  - atuin 18.3.0 (-", "  + ripgrep 14.1.0 (+", "  ~ zsh 5.9 → 5.9.1\n"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("home diff lacks %q:\n%s", want, r.stdout)
		}
	}

	gen2 := d.New
	realRun(t, "nix-env", "-p", profile, "--set", gen2)
	gens := generations(t, dir, env)
	if len(gens) != 2 || gens[0].Path != gen1 || gens[1].Path != gen2 || gens[0].Current || !gens[1].Current {
		t.Fatalf("generations: %+v", gens)
	}

	// Rolling back activates generation 1: its activate script writes
	// ~/.nixctl-activated.
	r = runIn(t, dir, nil, env, "home", "rollback", "laptop")
	if r.code != 0 {
		t.Fatalf("rollback: exit %d: %s", r.code, r.stderr)
	}
	if want := fmt.Sprintf("laptop: generation 1 is current (%s)\n", gen1); r.stdout != want {
		t.Errorf("rollback stdout %q, want %q", r.stdout, want)
	}
	assertActivated(t, env["HOME"], gen1)
	if gens := generations(t, dir, env); !gens[0].Current {
		t.Errorf("generation 1 is not current: %+v", gens)
	}
	r = runIn(t, dir, nil, env, "home", "rollback", "laptop", "--to", "2")
	if r.code != 0 {
		t.Fatalf("rollback --to 2: exit %d: %s", r.code, r.stderr)
	}
	assertActivated(t, env["HOME"], gen2)
	if r := runIn(t, dir, nil, env, "home", "rollback", "laptop", "--to", "2"); r.code != 2 || !strings.Contains(r.stderr, "generation 2 is already the current one") {
		t.Errorf("rollback to the current generation: exit %d: %s", r.code, r.stderr)
	}
}

func generations(t *testing.T, dir string, env map[string]string) []home.Generation {
	t.Helper()
	r := runIn(t, dir, nil, env, "home", "generations", "laptop", "--json")
	if r.code != 0 {
		t.Fatalf("generations: exit %d: %s", r.code, r.stderr)
	}
	var gens []home.Generation
	if err := json.Unmarshal([]byte(r.stdout), &gens); err != nil {
		t.Fatalf("generations --json: %v\n%s", err, r.stdout)
	}
	return gens
}

func assertActivated(t *testing.T, homeDir, gen string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(homeDir, ".nixctl-activated"))
	if err != nil || strings.TrimSpace(string(data)) != gen {
		t.Errorf("~/.nixctl-activated = %q (%v), want %s", data, err, gen)
	}
}

// Without home-manager on PATH, nixctl runs the one the flake's lock pins.
// Here the flake's home-manager input is a local flake whose default package
// is a home-manager that records its arguments; NIX_CONFIG points nix at a
// local registry, since Nix 2.8 fetches the global one first and this
// machine is offline.
func TestRealHomeSwitchThroughNixRunInputsFrom(t *testing.T) {
	dir, env := homeFixture(t)
	// The script tests put a fake home-manager on PATH: drop it.
	var path []string
	for _, d := range filepath.SplitList(os.Getenv("PATH")) {
		if _, err := os.Stat(filepath.Join(d, "home-manager")); err != nil {
			path = append(path, d)
		}
	}
	env["PATH"] = strings.Join(path, string(filepath.ListSeparator))
	flake, err := os.ReadFile(filepath.Join(dir, "flake.nix"))
	if err != nil {
		t.Fatal(err)
	}
	withInput := strings.Replace(string(flake), "outputs = { self }:", `inputs.home-manager.url = "path:./hm";
  outputs = { self, home-manager }:`, 1)
	registry := filepath.Join(t.TempDir(), "registry.json")
	testutil.WriteFiles(t, dir, map[string]string{
		"flake.nix": withInput,
		"hm/flake.nix": `{
  outputs = { self }: {
    packages.x86_64-linux.default = derivation {
      name = "home-manager";
      system = "x86_64-linux";
      builder = "/bin/sh";
      PATH = "/bin:/usr/bin";
      args = [ "-c" "mkdir -p $out/bin; printf '#!/bin/sh\\necho \"$*\" > \"$HOME/.pinned-home-manager\"\\n' > $out/bin/home-manager; chmod +x $out/bin/home-manager" ];
    };
  };
}`,
	})
	if err := os.WriteFile(registry, []byte(`{"flakes":[],"version":2}`), 0o644); err != nil {
		t.Fatal(err)
	}
	env["NIX_CONFIG"] = "flake-registry = " + registry
	lock := []string{"nix", "--extra-experimental-features", "nix-command flakes", "flake", "lock", dir}
	if res, err := execx.NewReal().Run(context.Background(), execx.Cmd{Argv: lock, Env: []string{"NIX_CONFIG=" + env["NIX_CONFIG"]}}); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(lock, " "), err, res.Stderr)
	}

	r := runIn(t, dir, nil, env, "home", "switch", "laptop")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, "home-manager is not on PATH: running the one pinned in the flake's lock file") {
		t.Errorf("stderr does not say so:\n%s", r.stderr)
	}
	got, err := os.ReadFile(filepath.Join(env["HOME"], ".pinned-home-manager"))
	if want := "switch --flake " + dir + "#gabriel@laptop -b hm-bak\n"; err != nil || string(got) != want {
		t.Errorf("pinned home-manager ran with %q (%v), want %q", got, err, want)
	}
}

// One process evaluates every profile; a profile with a type error (which
// ends the whole nix process) is evaluated alone for its located error, and
// the others are still built.
func TestRealHomeBuildBuildsTheProfilesThatEvaluate(t *testing.T) {
	dir, env := homeFixture(t)
	flake, err := os.ReadFile(filepath.Join(dir, "flake.nix"))
	if err != nil {
		t.Fatal(err)
	}
	broken := strings.Replace(string(flake), `server = { activationPackage = profile "ops"; };`,
		`server = { activationPackage = profile "ops" 1; };`, 1)
	if broken == string(flake) {
		t.Fatal("the fixture changed: no server profile to break")
	}
	testutil.WriteFiles(t, dir, map[string]string{"flake.nix": broken})
	r := runIn(t, dir, nil, env, "home", "build", "--all", "--json")
	if r.code != exitcode.Build {
		t.Fatalf("exit %d, want %d: %s", r.code, exitcode.Build, r.stderr)
	}
	var built []home.Built
	if err := json.Unmarshal([]byte(r.stdout), &built); err != nil || len(built) != 2 {
		t.Fatalf("home build --json: %v\n%s", err, r.stdout)
	}
	if built[0].Profile != "laptop" || !strings.HasSuffix(built[0].Path, "-home-manager-generation") || built[0].Error != "" {
		t.Errorf("laptop was not built: %+v", built[0])
	}
	if _, err := os.Stat(filepath.Join(built[0].Path, "activate")); err != nil {
		t.Errorf("laptop's generation is not in the store: %v", err)
	}
	if built[1].Profile != "server" || built[1].Path != "" || !regexp.MustCompile(`^building server failed: flake.nix:\d+:\d+: .*attempt to call something which is not a function`).MatchString(built[1].Error) {
		t.Errorf("server: %+v", built[1])
	}
}
