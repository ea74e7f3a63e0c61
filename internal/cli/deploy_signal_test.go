package cli

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nixctl/nixctl/internal/testutil"
	"github.com/nixctl/nixctl/internal/testutil/fakecmd"
)

// TestDeployInterruptKillsChildrenAndReleasesLocks runs nixctl as its own
// process (this test binary under the name nixctl, see TestMain), with a
// fake nixos-rebuild that hangs (with a child of its own), interrupts it
// mid-activation, and checks that it exits 130, leaves no child or
// grandchild running and releases the host's lock.
func TestDeployInterruptKillsChildrenAndReleasesLocks(t *testing.T) {
	s := testutil.StartSSHD(t, testutil.SSHDOptions{})
	root := s.Root() // the host's files, in its own mount namespace
	testutil.Require(t, "nix")
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin, fake, home := t.TempDir(), t.TempDir(), t.TempDir()
	for _, name := range []string{"nixctl", "nixos-rebuild"} {
		if err := os.Symlink(exe, filepath.Join(bin, name)); err != nil {
			t.Fatal(err)
		}
	}
	kh, _ := os.ReadFile(s.KnownHostsFile)
	testutil.WriteFiles(t, home, map[string]string{".ssh/known_hosts": string(kh)})
	testutil.WriteFiles(t, fake, map[string]string{"nixos-rebuild.yaml": "responses:\n  - args: [switch]\n    hang: true\n    spawn: true\n"})
	// A build host: nothing is built locally, the fake is the only child.
	dir := testutil.WriteTree(t, map[string]string{
		"flake.nix":   "{}",
		"nixctl.yaml": fmt.Sprintf("hosts:\n  - {name: web, address: 127.0.0.1, port: %d, identity: %s, buildHost: nix@192.0.2.9}\n", s.Port, s.ClientKeyFile),
	})

	cmd := exec.Command(filepath.Join(bin, "nixctl"), "deploy", "web", "--yes", "--no-check")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"), "HOME="+home, "XDG_STATE_HOME="+filepath.Join(home, "state"),
		fakecmd.DirEnv+"="+fake, "NO_COLOR=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill() }()

	// Wait until the fake nixos-rebuild runs (a readiness wait: the bound
	// only stops a broken run from hanging the test).
	var calls []fakecmd.Call
	for deadline := time.Now().Add(60 * time.Second); len(calls) == 0; {
		if time.Now().After(deadline) {
			t.Fatalf("the fake nixos-rebuild never started:\n%s", stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
		calls, _ = fakecmd.Calls(fake, "nixos-rebuild")
	}
	if _, err := os.Stat(filepath.Join(root, "var/lib/nixctl/deploy.lock")); err != nil {
		t.Fatalf("the host should be locked while activating: %v", err)
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 130 {
		t.Fatalf("want exit 130, got %v:\n%s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "nixctl: interrupted: stopped web at activate; locks released") {
		t.Errorf("stderr should say where the host stopped:\n%s", stderr.String())
	}
	if len(calls) != 1 || len(calls[0].Children) != 1 {
		t.Fatalf("the fake and its child should be recorded: %+v", calls)
	}
	// The fake's own child too: nixctl stops the whole process group.
	assertGone(t, calls)
	if _, err := os.Stat(filepath.Join(root, "var/lib/nixctl/deploy.lock")); !os.IsNotExist(err) {
		t.Errorf("the lock must be released: %v", err)
	}
	if data, err := os.ReadFile(filepath.Join(root, "var/lib/nixctl/last-deploy.json")); err != nil || !strings.Contains(string(data), `"result":"interrupted"`) {
		t.Errorf("last deploy record: %s %v", data, err)
	}
}
