package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nixctl/nixctl/internal/testutil"
)

// remoteHomeFixture is the fixture fleet with one host, nixos-mini, reached
// as root through sshd, and the given profiles. nixctl runs as root.
func remoteHomeFixture(t *testing.T, sshd *testutil.SSHD, profiles string) (dir string, env map[string]string) {
	t.Helper()
	dir, env = homeFixture(t)
	testutil.WriteFiles(t, dir, map[string]string{"nixctl.yaml": fmt.Sprintf(`hosts:
  - {name: nixos-mini, address: 127.0.0.1, port: %d, user: root, identity: %s}
profiles:%s
`, sshd.Port, sshd.ClientKeyFile, profiles)})
	// nixctl's own SSH reads ~/.ssh/known_hosts of $HOME; the system ssh
	// under nix copy gets it through NIX_SSHOPTS.
	known, err := os.ReadFile(sshd.KnownHostsFile)
	if err != nil {
		t.Fatal(err)
	}
	testutil.WriteFiles(t, env["HOME"], map[string]string{".ssh/known_hosts": string(known)})
	env["USER"] = "root"
	return dir, env
}

// A remote profile is built here, copied with the real nix copy over a real
// sshd on 127.0.0.1 and activated there as its non-root user: the fixture's
// activate script writes ~/.nixctl-activated in that user's home.
func TestRealHomeSwitchRemoteProfilesOverSSH(t *testing.T) {
	testutil.Require(t, "nix", "ssh")
	users := []string{"nixctl-hm1", "nixctl-hm2"}
	sshd := testutil.StartSSHD(t, testutil.SSHDOptions{ExtraUsers: users})
	homes := map[string]string{}
	for _, u := range users {
		acct, err := user.Lookup(u)
		if err != nil {
			t.Fatal(err)
		}
		homes[u] = acct.HomeDir
		marker := filepath.Join(acct.HomeDir, ".nixctl-activated")
		_ = os.Remove(marker)
		t.Cleanup(func() { _ = os.Remove(marker) })
	}
	dir, env := remoteHomeFixture(t, sshd, `
  - {name: server, user: nixctl-hm1, host: nixos-mini, tags: [servers]}
  - {name: server-2, attr: server, user: nixctl-hm2, host: nixos-mini, tags: [servers]}`)

	gen := buildGeneration(t, dir, env, "server")
	r := runIn(t, dir, nil, env, "home", "switch", "@servers")
	if r.code != 0 {
		t.Fatalf("exit %d:\n%s", r.code, r.stderr)
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "✓\tserver\tnixos-mini\t"+gen) || !strings.HasPrefix(lines[1], "✓\tserver-2\tnixos-mini\t"+gen) {
		t.Errorf("summary:\n%s", r.stdout)
	}
	for _, u := range users {
		if !strings.Contains(r.stderr, "activating "+gen+" for ops as "+u) {
			t.Errorf("no activation as %s in stderr:\n%s", u, r.stderr)
		}
		assertActivated(t, homes[u], gen)
	}
	for _, want := range []string{"server: copying to nixos-mini", "server-2: activating on nixos-mini as nixctl-hm2"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}

	// A file of the user's own where the generation puts one: found on the
	// host before activating, and named.
	mine := filepath.Join(homes["nixctl-hm1"], ".demorc")
	if err := os.WriteFile(mine, []byte("my own\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Remove(mine) })
	_ = os.Remove(filepath.Join(homes["nixctl-hm1"], ".nixctl-activated"))
	r = runIn(t, dir, nil, env, "home", "switch", "server")
	if r.code != 1 || !strings.Contains(r.stderr, "nixctl: error: profile server: home-manager would clobber 1 file: "+mine+"\n") {
		t.Errorf("clobber on the host: exit %d:\n%s", r.code, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(homes["nixctl-hm1"], ".nixctl-activated")); err == nil {
		t.Error("activated despite a file in the way")
	}

	// An unknown host key stops the switch before anything is copied.
	testutil.WriteFiles(t, env["HOME"], map[string]string{".ssh/known_hosts": ""})
	r = runIn(t, dir, nil, env, "home", "switch", "server")
	if r.code == 0 || !strings.Contains(r.stderr, "nixctl: error: profile server: ") || !strings.Contains(r.stderr, "nixctl: hint: ") {
		t.Errorf("unknown host key: exit %d:\n%s", r.code, r.stderr)
	}
	if strings.Contains(r.stderr, "copying to") {
		t.Errorf("copied before the preflight passed:\n%s", r.stderr)
	}
}

// A remote profile's diff, generations and rollback run against its
// generations on the host. Here the profile's user is root (only root can
// write this machine's single-user store, which a generation needs), with
// XDG_STATE_HOME pointing into the test's own directory.
func TestRealHomeRemoteDiffGenerationsRollback(t *testing.T) {
	testutil.Require(t, "nix", "ssh")
	state := t.TempDir()
	if err := os.MkdirAll(filepath.Join(state, "nix", "profiles"), 0o755); err != nil {
		t.Fatal(err)
	}
	sshd := testutil.StartSSHD(t, testutil.SSHDOptions{Env: map[string]string{"XDG_STATE_HOME": state}})
	root := sshd.Root() // the host's files, in its own mount namespace
	marker := "/root/.nixctl-activated"
	if old, err := os.ReadFile(marker); err == nil {
		t.Cleanup(func() { _ = os.WriteFile(marker, old, 0o644) })
	} else {
		t.Cleanup(func() { _ = os.Remove(marker) })
	}
	dir, env := remoteHomeFixture(t, sshd, `
  - {name: server, user: root, host: nixos-mini}`)

	// Never switched: generations says so.
	if r := runIn(t, dir, nil, env, "home", "generations", "server"); r.code != 1 || !strings.Contains(r.stderr, "no Home Manager generations") {
		t.Errorf("generations before a switch: exit %d: %s", r.code, r.stderr)
	}
	if r := runIn(t, dir, nil, env, "home", "switch", "server"); r.code != 0 {
		t.Fatalf("switch: exit %d: %s", r.code, r.stderr)
	}
	gen1 := buildGeneration(t, dir, env, "server")
	testutil.WriteFiles(t, dir, map[string]string{"packages.nix": `{
  zsh = { version = "5.9"; size = 100; };
  atuin = { version = "18.4.0"; size = 300; };
}`})
	r := runIn(t, dir, nil, env, "home", "diff", "server")
	if r.code != 0 {
		t.Fatalf("diff: exit %d: %s", r.code, r.stderr)
	}
	if !strings.Contains(r.stdout, "server: 0 added, 0 removed, 1 changed;") || !strings.Contains(r.stdout, "  ~ atuin 18.3.0 → 18.4.0\n") {
		t.Errorf("diff:\n%s", r.stdout)
	}
	if r := runIn(t, dir, nil, env, "home", "switch", "server", "--diff", "--yes"); r.code != 0 || !strings.Contains(r.stdout, "~ atuin 18.3.0 → 18.4.0") {
		t.Fatalf("switch --diff --yes: exit %d:\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	gen2 := buildGeneration(t, dir, env, "server")

	r = runIn(t, dir, nil, env, "home", "generations", "server", "--json")
	var gens []struct {
		Number  int
		Current bool
		Path    string
	}
	if err := json.Unmarshal([]byte(r.stdout), &gens); err != nil || len(gens) != 2 || gens[0].Path != gen1 || gens[1].Path != gen2 || !gens[1].Current {
		t.Fatalf("generations (%v): %s\n%s", err, r.stdout, r.stderr)
	}

	r = runIn(t, dir, nil, env, "home", "rollback", "server")
	if r.code != 0 || r.stdout != fmt.Sprintf("server: generation 1 is current (%s)\n", gen1) {
		t.Fatalf("rollback: exit %d: %q\n%s", r.code, r.stdout, r.stderr)
	}
	assertActivated(t, "/root", gen1)
	if cur, err := filepath.EvalSymlinks(filepath.Join(state, "nix", "profiles", "home-manager")); err != nil || cur != gen1 {
		t.Errorf("the host's profile points at %s (%v), want %s", cur, err, gen1)
	}

	// While a deploy holds the host, a rollback waits for nothing and
	// changes nothing: it names the deploy.
	testutil.WriteFiles(t, root, map[string]string{"var/lib/nixctl/deploy.lock/info": `{"runId":"r42","who":"gabriel@laptop","started":"2026-11-25T21:00:00Z","action":"deploy"}`})
	r = runIn(t, dir, nil, env, "home", "rollback", "server", "--to", "2")
	if r.code != 1 || !strings.Contains(r.stderr, "nixctl: error: nixos-mini is being deployed by gabriel@laptop since ") || !strings.Contains(r.stderr, "(run r42, deploy)") {
		t.Errorf("rollback during a deploy: exit %d: %s", r.code, r.stderr)
	}
	assertActivated(t, "/root", gen1)
}
