package cli

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nixctl/nixctl/internal/testutil"
	"github.com/nixctl/nixctl/internal/testutil/fakecmd"
)

// deployRig runs nixctl deploy as its own process (this test binary under
// the name nixctl, see TestMain) against real sshds on 127.0.0.1, one per
// host, each in a mount namespace of its own (its nixctl state, locks and
// records, and its /run), which the test reads under root.
type deployRig struct {
	t                    *testing.T
	bin, fake, home, dir string
	hosts                map[string]*rigHost
	names                []string
}

type rigHost struct {
	sshd *testutil.SSHD
	root string
}

// newDeployRig starts one sshd per host and writes an inventory where every
// host builds on a build host, so the fake nixos-rebuild is nixctl's only
// child. known_hosts holds each sshd's key as it is now.
func newDeployRig(t *testing.T, names ...string) *deployRig {
	t.Helper()
	testutil.Require(t, "nix")
	r := &deployRig{t: t, bin: t.TempDir(), fake: t.TempDir(), home: t.TempDir(), hosts: map[string]*rigHost{}, names: names}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"nixctl", "nixos-rebuild"} {
		if err := os.Symlink(exe, filepath.Join(r.bin, name)); err != nil {
			t.Fatal(err)
		}
	}
	var known, inv strings.Builder
	inv.WriteString("hosts:\n")
	for _, n := range names {
		s := testutil.StartSSHD(t, testutil.SSHDOptions{OwnSystem: true})
		r.hosts[n] = &rigHost{sshd: s, root: s.Root()}
		kh, _ := os.ReadFile(s.KnownHostsFile)
		known.Write(kh)
		fmt.Fprintf(&inv, "  - {name: %s, address: 127.0.0.1, port: %d, identity: %s, buildHost: nix@192.0.2.9}\n", n, s.Port, s.ClientKeyFile)
	}
	testutil.WriteFiles(t, r.home, map[string]string{".ssh/known_hosts": known.String()})
	r.dir = testutil.WriteTree(t, map[string]string{"flake.nix": "{}", "nixctl.yaml": inv.String()})
	return r
}

// rebuild sets the fake nixos-rebuild's answers (fakecmd's YAML table).
func (r *deployRig) rebuild(table string) {
	r.t.Helper()
	testutil.WriteFiles(r.t, r.fake, map[string]string{"nixos-rebuild.yaml": table})
}

// command prepares `nixctl ARGS` in the fleet directory.
func (r *deployRig) command(args ...string) (*exec.Cmd, *bytes.Buffer, *bytes.Buffer) {
	cmd := exec.Command(filepath.Join(r.bin, "nixctl"), args...)
	cmd.Dir = r.dir
	cmd.Env = append(os.Environ(), "PATH="+r.bin+":"+os.Getenv("PATH"), "HOME="+r.home, "XDG_STATE_HOME="+filepath.Join(r.home, "state"),
		fakecmd.DirEnv+"="+r.fake, "NO_COLOR=1")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	return cmd, &stdout, &stderr
}

// run runs nixctl to the end and returns its exit code and output.
func (r *deployRig) run(args ...string) (int, string, string) {
	r.t.Helper()
	cmd, stdout, stderr := r.command(args...)
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		r.t.Fatal(err)
	}
	return cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()
}

func (r *deployRig) calls() []fakecmd.Call {
	r.t.Helper()
	calls, err := fakecmd.Calls(r.fake, "nixos-rebuild")
	if err != nil {
		r.t.Fatal(err)
	}
	return calls
}

// waitFor polls cond (a readiness wait: the bound only stops a broken run
// from hanging the test).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting: %s", what)
		}
	}
}

func (h *rigHost) exists(rel string) bool {
	_, err := os.Lstat(filepath.Join(h.root, rel))
	return err == nil
}

const rigLock = "var/lib/nixctl/deploy.lock"

// assertGone fails when a recorded process (or a child it started) runs.
func assertGone(t *testing.T, calls []fakecmd.Call) {
	t.Helper()
	for _, c := range calls {
		for _, pid := range append([]int{c.Pid}, c.Children...) {
			if running(pid) {
				t.Errorf("pid %d (started for %q) is still running", pid, c.Argv)
			}
		}
	}
}

// A nixos-rebuild that hangs (with a child of its own, as the real one has
// nix and ssh): --timeout ends it and its child, the summary says it timed
// out, the lock is released, and the other host finishes.
func TestDeployTimeoutEndsHangingRebuild(t *testing.T) {
	r := newDeployRig(t, "stuck", "fine")
	r.rebuild("responses:\n  - args: [switch]\n    contains: '#stuck'\n    hang: true\n    spawn: true\n")
	code, stdout, stderr := r.run("deploy", "--all", "--yes", "--no-check", "--timeout", "5s")
	if code != 5 {
		t.Fatalf("exit %d, want 5 (some hosts failed)\n%s%s", code, stdout, stderr)
	}
	if !strings.Contains(stderr, "nixctl: error: stuck: timed out after 5s") || !strings.Contains(stderr, "raise --timeout") {
		t.Errorf("the summary should say the host timed out:\n%s", stderr)
	}
	if !regexpMatch(`stuck\s+switch\s+failed at activate`, stdout) || !regexpMatch(`fine\s+switch\s+ok`, stdout) {
		t.Errorf("table:\n%s", stdout)
	}
	calls := r.calls()
	if len(calls) != 2 {
		t.Fatalf("calls: %+v", calls)
	}
	hung := 0
	for _, c := range calls {
		if len(c.Children) > 0 {
			hung++
		}
	}
	if hung != 1 {
		t.Errorf("the hanging fake did not record its child: %+v", calls)
	}
	assertGone(t, calls)
	for _, n := range r.names {
		if r.hosts[n].exists(rigLock) {
			t.Errorf("%s: the lock must be released", n)
		}
	}
}

// running reports whether pid is a live process. A killed child whose
// parent died is a zombie until init reaps it: dead, not running.
func running(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	state := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	return len(state) > 0 && state[0] != "Z" && state[0] != "X"
}

func regexpMatch(pattern, s string) bool { return regexp.MustCompile(pattern).MatchString(s) }

// sshRebuild stands in for nixos-rebuild's activation step: it runs over
// the system ssh with the NIX_SSHOPTS nixctl passes, so it fails as the
// real one does when the host's sshd dies under it. A host with /run/hang
// stays in the activation until the connection drops.
const sshRebuild = `#!/bin/sh
target=
while [ $# -gt 0 ]; do
  case "$1" in --target-host) target=$2; shift ;; esac
  shift
done
exec ssh $NIX_SSHOPTS -o BatchMode=yes -o UserKnownHostsFile="$HOME/.ssh/known_hosts" "$target" \
  'if [ -e /run/hang ]; then touch /run/activating; exec sleep 600; fi'
`

// sshd killed in the middle of a deploy: that host fails with the ssh
// error, the other host finishes, and the lock the dead host keeps is
// reported as stale on the next run, which --break-lock takes over.
func TestDeploySSHDKilledMidActivation(t *testing.T) {
	testutil.Require(t, "ssh")
	r := newDeployRig(t, "doomed", "fine")
	rebuild := filepath.Join(r.bin, "nixos-rebuild")
	if err := os.Remove(rebuild); err != nil {
		t.Fatal(err)
	}
	testutil.WriteFiles(t, r.bin, map[string]string{"nixos-rebuild": sshRebuild})
	if err := os.Chmod(rebuild, 0o755); err != nil {
		t.Fatal(err)
	}
	doomed, fine := r.hosts["doomed"], r.hosts["fine"]
	testutil.WriteFiles(t, doomed.root, map[string]string{"run/hang": ""})

	cmd, stdout, stderr := r.command("deploy", "--all", "--yes", "--no-check")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill() }()
	waitFor(t, "doomed's activation", func() bool { return doomed.exists("run/activating") })
	doomed.sshd.Kill()
	err := cmd.Wait()
	out, errOut := stdout.String(), stderr.String()
	if code := cmd.ProcessState.ExitCode(); code != 5 {
		t.Fatalf("exit %d (%v), want 5 (some hosts failed)\n%s%s", code, err, out, errOut)
	}
	if !regexpMatch(`doomed\s+switch\s+failed at activate`, out) || !regexpMatch(`fine\s+switch\s+ok`, out) {
		t.Errorf("table:\n%s", out)
	}
	if !regexpMatch(`nixctl: error: doomed: nixos-rebuild switch exited with code 255: \S`, errOut) {
		t.Errorf("doomed's error should be ssh's:\n%s", errOut)
	}
	if !strings.Contains(errOut, "could not release the lock") {
		t.Errorf("the lock left on doomed should be reported:\n%s", errOut)
	}
	if fine.exists(rigLock) || !fine.exists("var/lib/nixctl/last-deploy.json") {
		t.Error("fine: its lock must be released and its deploy recorded")
	}
	if !doomed.exists(rigLock) {
		t.Fatal("doomed's lock cannot have been released with its sshd dead")
	}

	// The host is back: the next deploy names the lock the dead run left.
	doomed.sshd.Restart()
	if err := os.Remove(filepath.Join(doomed.root, "run/hang")); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := r.run("deploy", "doomed", "--yes", "--no-check")
	if code == 0 || !strings.Contains(errOut, "doomed is locked by a deploy that is no longer running") || !strings.Contains(errOut, "--break-lock to take it over") {
		t.Fatalf("exit %d, want the stale lock reported:\n%s", code, errOut)
	}
	if code, _, errOut := r.run("deploy", "doomed", "--yes", "--no-check", "--break-lock"); code != 0 {
		t.Fatalf("--break-lock: exit %d\n%s", code, errOut)
	}
	if doomed.exists(rigLock) {
		t.Error("doomed: the lock must be released")
	}
}

// A host whose key changed between two deploys (reinstalled, or someone in
// the middle): the second deploy refuses it before anything runs there,
// and nixos-rebuild is never started for it.
func TestDeployRefusesChangedHostKey(t *testing.T) {
	r := newDeployRig(t, "web")
	web := r.hosts["web"]
	r.rebuild("responses: []\n")
	if code, out, errOut := r.run("deploy", "web", "--yes", "--no-check"); code != 0 {
		t.Fatalf("first deploy: exit %d\n%s%s", code, out, errOut)
	}
	if len(r.calls()) != 1 {
		t.Fatalf("first deploy: calls %+v", r.calls())
	}
	record := filepath.Join(web.root, "var/lib/nixctl/last-deploy.json")
	before, err := os.ReadFile(record)
	if err != nil {
		t.Fatal(err)
	}

	web.sshd.SetHostKey(testutil.NewEd25519Key(t))
	code, out, errOut := r.run("deploy", "web", "--yes", "--no-check")
	if code == 0 || !regexpMatch(`web\s+switch\s+failed at preflight`, out) {
		t.Errorf("exit %d, want web refused at preflight:\n%s%s", code, out, errOut)
	}
	if !strings.Contains(errOut, "CHANGED") || !strings.Contains(errOut, "ssh-keygen -R") {
		t.Errorf("the error should say the key changed and how to accept a new one:\n%s", errOut)
	}
	if n := len(r.calls()); n != 1 {
		t.Errorf("nixos-rebuild ran %d times, want only the first deploy's", n)
	}
	if web.exists(rigLock) {
		t.Error("the refused host was locked")
	}
	if after, _ := os.ReadFile(record); !bytes.Equal(after, before) {
		t.Errorf("the refused deploy wrote the host's record:\n%s", after)
	}
}
