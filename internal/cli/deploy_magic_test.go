package cli

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/nixctl/nixctl/internal/hostops"
	"github.com/nixctl/nixctl/internal/testutil"
)

// nixctl killed with SIGKILL right after the activation: nothing is left to
// confirm it, and the host switches back to what it ran by itself (magic
// rollback's watchdog outlives both the SSH session and nixctl).
func TestDeployKilledAfterActivationHostRollsBack(t *testing.T) {
	testutil.Require(t, "ssh", "nix-env", "setsid")
	r := newDeployRig(t, "web")
	web := r.hosts["web"]
	old := testutil.StoreSystem(t, "system-old", "")
	new := testutil.StoreSystem(t, "system-new", "")
	if err := web.sshd.ActivateSystem(old); err != nil {
		t.Fatal(err)
	}
	// nixos-rebuild's remote step over the system ssh, then it tells the
	// test and waits to be let go.
	mark, release := filepath.Join(r.home, "activated"), filepath.Join(r.home, "release")
	rebuild := filepath.Join(r.bin, "nixos-rebuild")
	if err := os.Remove(rebuild); err != nil {
		t.Fatal(err)
	}
	testutil.WriteFiles(t, r.bin, map[string]string{"nixos-rebuild": `#!/bin/sh
target=
while [ $# -gt 0 ]; do
  case "$1" in --target-host) target=$2; shift ;; esac
  shift
done
ssh $NIX_SSHOPTS -o BatchMode=yes -o UserKnownHostsFile="$HOME/.ssh/known_hosts" "$target" \
  'nix-env -p /nix/var/nix/profiles/system --set ` + new + ` && ` + new + `/bin/switch-to-configuration switch' || exit 1
touch ` + mark + `
while [ ! -e ` + release + ` ]; do sleep 0.1; done
`})
	if err := os.Chmod(rebuild, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.WriteFile(release, nil, 0o644) })

	cmd, _, stderr := r.command("deploy", "web", "--yes", "--no-check", "--confirm-timeout", "3s")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill() }()
	waitFor(t, "the activation", func() bool { _, err := os.Stat(mark); return err == nil })
	if cur, _ := os.Readlink(filepath.Join(web.root, "run/current-system")); cur != new {
		t.Fatalf("the host runs %s after the activation, want %s", cur, new)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if !strings.Contains(stderr.String(), "web: activate") {
		t.Errorf("nixctl did not reach the activation:\n%s", stderr.String())
	}
	waitFor(t, "the host's own rollback", func() bool {
		cur, _ := os.Readlink(filepath.Join(web.root, "run/current-system"))
		return cur == old
	})
	fired, err := os.ReadFile(filepath.Join(web.root, hostops.WatchdogDir, "fired"))
	if err != nil || !strings.Contains(string(fired), "action=switch") || !strings.Contains(string(fired), "result=0") {
		t.Errorf("the watchdog's record: %s %v", fired, err)
	}
	if gen, _ := os.Readlink(filepath.Join(web.root, "nix/var/nix/profiles/system")); gen != "system-1-link" {
		t.Errorf("the system profile is on %s, want generation 1 again", gen)
	}
}
