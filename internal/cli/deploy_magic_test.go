package cli

import (
	"bytes"
	"os"
	"os/exec"
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
	old, new := r.runningOld("web")
	cmd, _, stderr, _ := r.deployUntilActivated(new, "--confirm-timeout", "3s")
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
	// The record gets the rollback's exit status once its
	// switch-to-configuration has returned.
	var fired []byte
	waitFor(t, "the watchdog's record", func() bool {
		fired, _ = os.ReadFile(filepath.Join(web.root, hostops.WatchdogDir, "fired"))
		return strings.Contains(string(fired), "result=")
	})
	if !strings.Contains(string(fired), "action=switch") || !strings.Contains(string(fired), "result=0") {
		t.Errorf("the watchdog's record: %s", fired)
	}
	if gen, _ := os.Readlink(filepath.Join(web.root, "nix/var/nix/profiles/system")); gen != "system-1-link" {
		t.Errorf("the system profile is on %s, want generation 1 again", gen)
	}
}

// runningOld makes host run a system old (generation 1) and returns it
// with another one, new, to deploy.
func (r *deployRig) runningOld(host string) (old, new string) {
	r.t.Helper()
	old = testutil.StoreSystem(r.t, "system-old", "")
	new = testutil.StoreSystem(r.t, "system-new", "")
	if err := r.hosts[host].sshd.ActivateSystem(old); err != nil {
		r.t.Fatal(err)
	}
	return old, new
}

// deployUntilActivated starts nixctl deploy web --yes --no-check ARGS with
// a nixos-rebuild that activates system, and returns once it has; the
// nixos-rebuild ends when release exists.
func (r *deployRig) deployUntilActivated(system string, args ...string) (cmd *exec.Cmd, stdout, stderr *bytes.Buffer, release string) {
	r.t.Helper()
	mark, release := r.activatesThenWaits(system)
	r.t.Cleanup(func() { _ = os.WriteFile(release, nil, 0o644) })
	cmd, stdout, stderr = r.command(append([]string{"deploy", "web", "--yes", "--no-check"}, args...)...)
	if err := cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(func() { _ = cmd.Process.Kill() })
	waitFor(r.t, "the activation", func() bool { _, err := os.Stat(mark); return err == nil })
	return cmd, stdout, stderr, release
}

// activatesThenWaits makes nixos-rebuild a stand-in for its remote step
// over the system ssh (the system profile gets system, then its
// switch-to-configuration switch runs); then it creates mark and waits for
// release to exist.
func (r *deployRig) activatesThenWaits(system string) (mark, release string) {
	r.t.Helper()
	mark, release = filepath.Join(r.home, "activated"), filepath.Join(r.home, "release")
	rebuild := filepath.Join(r.bin, "nixos-rebuild")
	if err := os.Remove(rebuild); err != nil {
		r.t.Fatal(err)
	}
	testutil.WriteFiles(r.t, r.bin, map[string]string{"nixos-rebuild": `#!/bin/sh
target=
while [ $# -gt 0 ]; do
  case "$1" in --target-host) target=$2; shift ;; esac
  shift
done
ssh $NIX_SSHOPTS -o BatchMode=yes -o UserKnownHostsFile="$HOME/.ssh/known_hosts" "$target" \
  'nix-env -p /nix/var/nix/profiles/system --set ` + system + ` && ` + system + `/bin/switch-to-configuration switch' || exit 1
touch ` + mark + `
while [ ! -e ` + release + ` ]; do sleep 0.1; done
`})
	if err := os.Chmod(rebuild, 0o755); err != nil {
		r.t.Fatal(err)
	}
	return mark, release
}
