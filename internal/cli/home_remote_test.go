package cli

import (
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nixctl/nixctl/internal/testutil"
)

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
	dir, env := homeFixture(t)
	testutil.WriteFiles(t, dir, map[string]string{"nixctl.yaml": fmt.Sprintf(`hosts:
  - name: nixos-mini
    address: 127.0.0.1
    port: %d
    user: root
    identity: %s
profiles:
  - {name: server, user: nixctl-hm1, host: nixos-mini, tags: [servers]}
  - {name: server-2, attr: server, user: nixctl-hm2, host: nixos-mini, tags: [servers]}
`, sshd.Port, sshd.ClientKeyFile)})
	// nixctl's own SSH reads ~/.ssh/known_hosts of $HOME; the system ssh
	// under nix copy gets it through NIX_SSHOPTS.
	known, err := os.ReadFile(sshd.KnownHostsFile)
	if err != nil {
		t.Fatal(err)
	}
	testutil.WriteFiles(t, env["HOME"], map[string]string{".ssh/known_hosts": string(known)})
	env["USER"] = "root"

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
