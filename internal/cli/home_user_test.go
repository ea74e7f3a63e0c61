package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nixctl/nixctl/internal/home"
	"github.com/nixctl/nixctl/internal/testutil"
	"github.com/nixctl/nixctl/internal/testutil/fakecmd"
)

// The laptop's own user on a multi-user Nix (a nix-daemon, as on
// EndeavourOS): nixctl and a home-manager that really builds and activates
// run as an unprivileged user with NIX_REMOTE=daemon. Whatever $USER says,
// switch --diff, diff, generations and rollback agree on the current
// generation, in both places Home Manager keeps it.

// hmUser owns the laptop in these tests; a name of its own, so that its
// per-user profile is no other test's.
const hmUser = "nixctl-hm"

func TestHomeAsTheLaptopsUnprivilegedUser(t *testing.T) {
	testutil.Require(t, "nix", "nix-env", "runuser", "git", "useradd")
	testutil.NixDaemon(t)
	testutil.EnsureUser(t, hmUser)
	bin := userBinaries(t)
	for _, layout := range []string{"xdg-state", "per-user"} {
		t.Run(layout, func(t *testing.T) {
			u := newLaptopUser(t, bin, layout)
			u.checkEveryCommandAgrees(t)
		})
	}
}

// userBinaries copies this test binary where the user can run it, as nixctl
// and as home-manager (TestMain picks the program by its name).
func userBinaries(t *testing.T) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := testutil.PublicTempDir(t)
	src, err := os.Open(self)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.OpenFile(filepath.Join(dir, "nixctl"), os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(filepath.Join(dir, "nixctl"), filepath.Join(dir, "home-manager")); err != nil {
		t.Fatal(err)
	}
	return dir
}

type laptopUser struct {
	home, repo, fake string
	// profile is where Home Manager keeps the generations in this layout.
	profile string
	env     map[string]string
}

func newLaptopUser(t *testing.T, bin, layout string) *laptopUser {
	t.Helper()
	home := testutil.UserDir(t, hmUser)
	u := &laptopUser{home: home, repo: filepath.Join(home, "fleet"), fake: filepath.Join(home, "fake")}
	u.env = map[string]string{
		"PATH":            bin + ":/usr/local/bin:/usr/bin:/bin",
		"NIX_REMOTE":      "daemon",
		"HOME":            home,
		"USER":            hmUser,
		"NO_COLOR":        "1",
		fakecmd.DirEnv:    u.fake,
		"XDG_CONFIG_HOME": filepath.Join(home, ".config"),
	}
	perUser := testutil.PerUserNixDirs(t, hmUser)
	switch layout {
	case "xdg-state":
		state := filepath.Join(home, "state")
		u.env["XDG_STATE_HOME"] = state
		u.profile = filepath.Join(state, "nix", "profiles", "home-manager")
		if err := os.MkdirAll(filepath.Dir(u.profile), 0o755); err != nil {
			t.Fatal(err)
		}
	case "per-user":
		u.profile = filepath.Join(perUser, "home-manager")
	}
	// A run that died earlier may have left generations behind.
	stale, _ := filepath.Glob(filepath.Join(perUser, "home-manager*"))
	for _, p := range stale {
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
	}
	if err := testutil.CopyTree(filepath.Join("testdata", "homeflake"), u.repo); err != nil {
		t.Fatal(err)
	}
	testutil.WriteFiles(t, u.repo, map[string]string{"nixctl.yaml": `profiles:
  - name: laptop
    attr: gabriel@laptop
    user: ` + hmUser + `
    backupExtension: hm-bak
`})
	testutil.WriteFiles(t, home, map[string]string{"fake/home-manager.yaml": "responses:\n  - args: []\n    homeManager: true\n"})
	testutil.ChownTree(t, home, hmUser)
	// The repository is the user's, as git (run by nix) insists.
	u.must(t, nil, "git", "init", "-q")
	u.must(t, nil, "git", "add", "-A")
	return u
}

// run runs argv as the user in the repository; env changes the user's
// environment (an empty value unsets the variable).
func (u *laptopUser) run(t *testing.T, env map[string]string, argv ...string) result {
	t.Helper()
	full := map[string]string{}
	for k, v := range u.env {
		full[k] = v
	}
	for k, v := range env {
		if v == "" {
			delete(full, k)
		} else {
			full[k] = v
		}
	}
	cmd := testutil.AsUser(hmUser, u.repo, full, argv...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%s: %v", strings.Join(argv, " "), err)
	}
	return result{stdout.String(), stderr.String(), code}
}

func (u *laptopUser) must(t *testing.T, env map[string]string, argv ...string) string {
	t.Helper()
	r := u.run(t, env, argv...)
	if r.code != 0 {
		t.Fatalf("%s (env %v): exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(argv, " "), env, r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

// current is the store path the profile's current generation points to.
func (u *laptopUser) current(t *testing.T) string {
	t.Helper()
	p, err := filepath.EvalSymlinks(u.profile)
	if err != nil {
		t.Fatalf("profile %s: %v", u.profile, err)
	}
	return p
}

// $USER as the laptop's user has it, unset (cron, containers) and left over
// from another account (sudo -E, su without -).
var userVariants = []map[string]string{
	nil,
	{"USER": ""},
	{"USER": "root"},
}

func (u *laptopUser) checkEveryCommandAgrees(t *testing.T) {
	u.must(t, nil, "nixctl", "home", "switch", "laptop")
	gen1 := u.current(t)
	calls, err := fakecmd.Calls(u.fake, "home-manager")
	if err != nil || len(calls) != 1 {
		t.Fatalf("home-manager calls: %v %+v", err, calls)
	}
	if got, want := strings.Join(calls[0].Argv, " "), "home-manager switch --flake "+u.repo+"#gabriel@laptop -b hm-bak"; got != want {
		t.Errorf("home-manager ran as %q, want %q", got, want)
	}
	if calls[0].Env["NIX_REMOTE"] != "daemon" {
		t.Errorf("home-manager's environment: %v", calls[0].Env)
	}
	activated, err := os.ReadFile(filepath.Join(u.home, ".nixctl-activated"))
	if err != nil || strings.TrimSpace(string(activated)) != gen1 {
		t.Errorf("~/.nixctl-activated = %q (%v), want %s", activated, err, gen1)
	}

	// Every way $USER can be, the diff sees generation 1.
	testutil.WriteFiles(t, u.repo, map[string]string{"packages.nix": `{
  zsh = { version = "5.9.1"; size = 100; };
  ripgrep = { version = "14.1.0"; size = 150; };
}`})
	testutil.ChownTree(t, u.repo, hmUser)
	var gen2 string
	for _, env := range userVariants {
		var d home.Diff
		decode(t, u.must(t, env, "nixctl", "home", "diff", "laptop", "--json"), &d)
		if d.Old != gen1 || d.New == "" || d.New == gen1 || len(d.Changes) != 3 {
			t.Fatalf("diff with %v: old %s new %s changes %+v; want old %s", env, d.Old, d.New, d.Changes, gen1)
		}
		gen2 = d.New
		out := u.must(t, env, "nixctl", "home", "diff", "laptop")
		if !strings.HasPrefix(out, "laptop: 1 added, 1 removed, 1 changed; closure ") {
			t.Errorf("diff with %v:\n%s", env, out)
		}
	}

	// switch --diff shows the same difference, then switches.
	var sw struct {
		OK      bool          `json:"ok"`
		Results []home.Result `json:"results"`
	}
	decode(t, u.must(t, map[string]string{"USER": "root"}, "nixctl", "--yes", "--json", "home", "switch", "laptop", "--diff"), &sw)
	if !sw.OK || len(sw.Results) != 1 || sw.Results[0].Diff == nil || sw.Results[0].Diff.Old != gen1 || sw.Results[0].Diff.New != gen2 {
		t.Fatalf("switch --diff: %+v", sw)
	}
	if cur := u.current(t); cur != gen2 {
		t.Fatalf("after switch the profile is at %s, want %s", cur, gen2)
	}

	for _, env := range userVariants {
		var gens []home.Generation
		decode(t, u.must(t, env, "nixctl", "home", "generations", "laptop", "--json"), &gens)
		if len(gens) != 2 || gens[0].Path != gen1 || gens[1].Path != gen2 || gens[0].Current || !gens[1].Current {
			t.Fatalf("generations with %v: %+v", env, gens)
		}
		var d home.Diff
		decode(t, u.must(t, env, "nixctl", "home", "diff", "laptop", "--json"), &d)
		if d.Old != gen2 || d.New != gen2 {
			t.Errorf("diff with %v after the switch: old %s new %s, want both %s", env, d.Old, d.New, gen2)
		}
	}

	out := u.must(t, map[string]string{"USER": ""}, "nixctl", "home", "rollback", "laptop")
	if want := fmt.Sprintf("laptop: generation 1 is current (%s)\n", gen1); out != want {
		t.Errorf("rollback printed %q, want %q", out, want)
	}
	if cur := u.current(t); cur != gen1 {
		t.Fatalf("after rollback the profile is at %s, want %s", cur, gen1)
	}
	var d home.Diff
	decode(t, u.must(t, map[string]string{"USER": "root"}, "nixctl", "home", "diff", "laptop", "--json"), &d)
	if d.Old != gen1 || d.New != gen2 {
		t.Errorf("diff after rollback: old %s new %s, want %s → %s", d.Old, d.New, gen1, gen2)
	}
}

func decode(t *testing.T, out string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
}
