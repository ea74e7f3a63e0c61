package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nixctl/nixctl/internal/hostops"
	"github.com/nixctl/nixctl/internal/testutil"
)

// fakeSystemd stands in for the two systemd commands the watchdog script
// uses on a host whose PID 1 is systemd (not the case here): systemd-run
// records its argv and starts the unit's command detached, as a transient
// unit outlives the SSH session; systemctl records its argv and stops a
// unit by killing that process. Each keeps its unit's pid in $dir/UNIT.pid.
const fakeSystemdRun = `#!/bin/sh
dir=$(dirname "$0")
echo "systemd-run $*" >>"$dir/calls"
unit=
while [ $# -gt 0 ]; do
  case "$1" in
  --unit) unit=$2; shift 2 ;;
  --description) shift 2 ;;
  --quiet) shift ;;
  -*) echo "fake systemd-run: unknown option $1" >&2; exit 1 ;;
  *) break ;;
  esac
done
[ -n "$unit" ] || { echo "fake systemd-run: no --unit" >&2; exit 1; }
setsid nohup "$@" </dev/null >>"$dir/$unit.log" 2>&1 &
echo $! >"$dir/$unit.pid"
`

const fakeSystemctl = `#!/bin/sh
dir=$(dirname "$0")
echo "systemctl $*" >>"$dir/calls"
case $1 in
stop) [ -f "$dir/$2.pid" ] && kill "$(cat "$dir/$2.pid")" ;;
*) echo "fake systemctl: unknown command $1" >&2; exit 1 ;;
esac
`

// On a systemd host the magic-rollback watchdog is a transient unit named
// after the run: nixctl status shows it pending while the activation is
// unconfirmed, and the confirmation stops that unit.
func TestDeployWatchdogIsATransientUnitNamedForTheRun(t *testing.T) {
	testutil.Require(t, "ssh", "nix-env", "setsid", "nsenter")
	r := newDeployRig(t, "web")
	web := r.hosts["web"]
	_, new := r.runningOld("web")
	// The host looks like a systemd one (the script checks /run/systemd/
	// system), and its PATH's first directory holds the fakes: bound over
	// /usr/local/sbin in its mount namespace only.
	fakes := t.TempDir()
	testutil.WriteFiles(t, fakes, map[string]string{"systemd-run": fakeSystemdRun, "systemctl": fakeSystemctl})
	for _, f := range []string{"systemd-run", "systemctl"} {
		if err := os.Chmod(filepath.Join(fakes, f), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(web.root, "run/systemd/system"), 0o755); err != nil {
		t.Fatal(err)
	}
	bind := web.sshd.InHost("mount", "--bind", fakes, "/usr/local/sbin")
	if out, err := exec.Command(bind[0], bind[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("binding the fakes on the host's PATH: %v: %s", err, out)
	}
	cmd, stdout, stderr, release := r.deployUntilActivated(new, "--confirm-timeout", "1h")

	// Armed: a transient unit named for the run, its command running on.
	calls, _ := os.ReadFile(filepath.Join(fakes, "calls"))
	m := regexp.MustCompile(`(?m)^systemd-run --unit nixctl-watchdog-(\S+) --description nixctl magic rollback of run (\S+) --quiet /bin/sh /var/lib/nixctl/watchdog/watchdog.sh / run (\S+) switch 1 `).FindStringSubmatch(string(calls))
	if m == nil || m[1] != m[2] || m[1] != m[3] {
		t.Fatalf("systemd-run calls:\n%s", calls)
	}
	runID, unit := m[1], hostops.WatchdogUnitPrefix+m[1]
	pidText, _ := os.ReadFile(filepath.Join(fakes, unit+".pid"))
	pid, err := strconv.Atoi(strings.TrimSpace(string(pidText)))
	if err != nil || !running(pid) {
		t.Fatalf("the unit's command is not running: %q %v", pidText, err)
	}

	// nixctl status reports the pending watchdog under its unit.
	if code, out, errOut := r.run("status", "web", "--no-eval"); !strings.Contains(out, "web: magic rollback pending for run "+runID+" (unit "+unit+" (systemctl status "+unit+")") {
		t.Errorf("status does not show the pending unit %s: exit %d\n%s\n%s", unit, code, out, errOut)
	}

	// Released, nixctl confirms over a new connection: the unit is stopped.
	if err := os.WriteFile(release, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("deploy: %v\n%s\n%s", err, stdout, stderr)
	}
	calls, _ = os.ReadFile(filepath.Join(fakes, "calls"))
	if !strings.Contains(string(calls), "\nsystemctl stop "+unit+"\n") {
		t.Errorf("the confirmation did not stop the unit:\n%s", calls)
	}
	waitFor(t, "the unit's end", func() bool { return !running(pid) })
	if _, err := os.Stat(filepath.Join(web.root, hostops.WatchdogDir, "armed")); !os.IsNotExist(err) {
		t.Errorf("a watchdog is still armed: %v", err)
	}
	time.Sleep(2 * time.Second) // the stopped unit did not roll back on its way out
	if cur, _ := os.Readlink(filepath.Join(web.root, "run/current-system")); cur != new {
		t.Errorf("the host runs %s, want the confirmed %s", cur, new)
	}
}
