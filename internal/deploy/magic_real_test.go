package deploy

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nixctl/nixctl/internal/execx"
	"github.com/nixctl/nixctl/internal/fault"
	"github.com/nixctl/nixctl/internal/hostops"
	"github.com/nixctl/nixctl/internal/testutil"
)

func (h *realHost) current(t *testing.T) string {
	t.Helper()
	l, _ := os.Readlink(filepath.Join(h.Root, "run/current-system"))
	return l
}

// magicHost is a host running generation 1 (old), with new built.
func magicHost(t *testing.T, lockOut bool) (h *realHost, old, new string) {
	t.Helper()
	testutil.Require(t, "nix-env", "setsid")
	h = startRealHost(t, "")
	old = testutil.StoreSystem(t, "system-old", h.AllowLogins())
	step := h.AllowLogins()
	if lockOut {
		step = h.RefuseLogins()
	}
	new = testutil.StoreSystem(t, "system-new", step)
	if err := h.ActivateSystem(old); err != nil {
		t.Fatal(err)
	}
	return h, old, new
}

func magicRun(t *testing.T, h *realHost, new string) *realRun {
	r := newRealRun(t, h.yaml("web", ""), h.KnownHostsFile)
	r.opts.ConfirmTimeout = 10 * time.Second
	// A loaded machine can take long to bring the host back: the wait
	// only bounds a broken run.
	r.opts.ReturnWait = 3 * time.Minute
	// The flake builds new, and the stand-in nixos-rebuild activates it.
	buildStubOf(r.rec, func(string) (string, string) { return new + ".drv", new })
	r.standInActivates = true
	r.rec.RegisterStub(&execx.Stub{Prefix: []string{"nixos-rebuild", "switch"}, Func: func(execx.Cmd) (string, int) {
		if err := h.ActivateSystem(new); err != nil {
			t.Errorf("activation: %v", err)
			return "", 1
		}
		return "", 0
	}})
	return r
}

// A generation that refuses the deployer's new logins: nixctl cannot
// confirm it, the host's watchdog switches back by itself, and nixctl
// waits for it, sees the previous system running and says so.
func TestRealMagicRollbackWhenTheHostLocksUsOut(t *testing.T) {
	h, old, new := magicHost(t, true)
	r := magicRun(t, h, new)
	rep := r.exec(t)
	web := result(t, rep, "web")
	if web.Result != ResultRolledBackByHost || web.Generation != 1 || !strings.Contains(web.Error, "went back by itself to generation 1 ("+old+")") {
		t.Fatalf("web: %+v", web)
	}
	if rep.Kind() != fault.RolledBack {
		t.Errorf("kind %v", rep.Kind())
	}
	if cur := h.current(t); cur != old {
		t.Errorf("the host runs %s, want the previous %s", cur, old)
	}
	if _, err := os.Stat(filepath.Join(h.Root, hostops.WatchdogDir, "fired")); err != nil {
		t.Errorf("the watchdog's record: %v", err)
	}
	if h.exists(hostops.DeployLockPath) {
		t.Error("the lock must be released once the host is back")
	}
	if rec, _ := os.ReadFile(filepath.Join(h.Root, hostops.LastDeployPath)); !strings.Contains(string(rec), `"result":"rolled back by host"`) {
		t.Errorf("last deploy record: %s", rec)
	}
}

// A healthy generation is confirmed over a new connection and no watchdog
// is left: not running, not pending, and nothing is rolled back later.
func TestRealMagicRollbackConfirmsAHealthyGeneration(t *testing.T) {
	h, _, new := magicHost(t, false)
	r := magicRun(t, h, new)
	r.opts.ConfirmTimeout = 3 * time.Second
	rep := r.exec(t)
	if web := result(t, rep, "web"); !web.OK() || web.Generation != 2 {
		t.Fatalf("web: %+v", web)
	}
	if _, err := os.Stat(filepath.Join(h.Root, hostops.WatchdogDir, "armed")); !os.IsNotExist(err) {
		t.Errorf("a watchdog is still pending: %v", err)
	}
	if watchdogRunning(t, h) {
		t.Error("a watchdog process is still running on the host")
	}
	time.Sleep(5 * time.Second) // past the confirm timeout
	if cur := h.current(t); cur != new {
		t.Errorf("the host runs %s, want the confirmed %s", cur, new)
	}
}

// watchdogRunning reports whether a watchdog process runs in h's mount
// namespace.
func watchdogRunning(t *testing.T, h *realHost) bool {
	t.Helper()
	mine, err := os.Readlink(filepath.Join(h.Root, "..", "ns/mnt"))
	if err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		cmd, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !strings.Contains(string(cmd), "watchdog.sh") {
			continue
		}
		if ns, err := os.Readlink(filepath.Join("/proc", e.Name(), "ns/mnt")); err == nil && ns == mine {
			return true
		}
	}
	return false
}
