package hostops

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nixctl/nixctl/internal/testutil"
)

// watchdogHost is a local host whose system profile is on generation 3 of
// 4, running generation 3.
func watchdogHost(t *testing.T) (*Host, string, string) {
	t.Helper()
	testutil.Require(t, "nix-env", "setsid", "nohup")
	h, root := newLocalHost(t)
	log := fakeSystem(t, root, 4)
	setRunning(t, root, 3)
	t.Cleanup(func() {
		// The detached watchdog is this test's to stop.
		for _, f := range []string{"armed", "confirmed", "fired"} {
			data, _ := os.ReadFile(filepath.Join(root, WatchdogDir, f))
			if p := parseWatchdog(string(data)); p.PID > 0 {
				_ = syscall.Kill(p.PID, syscall.SIGKILL)
			}
		}
	})
	return h, root, log
}

// setRunning points the profile and /run/current-system at generation n,
// as an activation does.
func setRunning(t *testing.T, root string, n int) {
	t.Helper()
	for link, target := range map[string]string{
		"nix/var/nix/profiles/system": "system-" + string(rune('0'+n)) + "-link",
		"run/current-system":          filepath.Join(root, "systems", string(rune('0'+n))),
	} {
		p := filepath.Join(root, link)
		_ = os.MkdirAll(filepath.Dir(p), 0o755)
		_ = os.Remove(p)
		if err := os.Symlink(target, p); err != nil {
			t.Fatal(err)
		}
	}
}

func watch(root string) Watchdog {
	return Watchdog{RunID: "run-1", Action: "switch", Generation: 3, System: filepath.Join(root, "systems/3"), Activation: 30 * time.Second, Confirm: time.Second}
}

func waitFile(t *testing.T, path string) {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if _, err := os.Stat(path); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never appeared", path)
		}
	}
}

// Not confirmed: the watchdog switches the profile back and activates what
// ran before, as nixos-rebuild switch --rollback does, and says so to a
// late confirm.
func TestWatchdogRollsBackUnlessConfirmed(t *testing.T) {
	ctx := context.Background()
	h, root, log := watchdogHost(t)
	if err := h.ArmWatchdog(ctx, watch(root)); err != nil {
		t.Fatal(err)
	}
	st, err := h.Status(ctx)
	if err != nil || st.Watchdog == nil || st.Watchdog.RunID != "run-1" || st.Watchdog.PID == 0 || st.Watchdog.Generation != 3 {
		t.Fatalf("status should show the pending watchdog: %+v %v", st.Watchdog, err)
	}
	setRunning(t, root, 4)
	waitFile(t, filepath.Join(root, WatchdogDir, "fired"))
	// The rollback runs right after the record is written.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if data, _ := os.ReadFile(log); string(data) == "3 switch\n" {
			break
		}
		if time.Now().After(deadline) {
			data, _ := os.ReadFile(log)
			t.Fatalf("activations %q, want generation 3's switch", data)
		}
	}
	if g, _ := h.Generation(ctx); g != 3 {
		t.Errorf("the profile is on %d after the rollback", g)
	}
	if err := h.ConfirmWatchdog(ctx, "run-1"); !errors.Is(err, ErrRolledBackByHost) {
		t.Errorf("a late confirm: %v", err)
	}
	if st, _ := h.Status(ctx); st.Watchdog != nil {
		t.Errorf("nothing is pending once it fired: %+v", st.Watchdog)
	}
}

// Confirmed: nothing is rolled back and no watchdog is left running.
func TestWatchdogConfirmedLeavesNothingBehind(t *testing.T) {
	ctx := context.Background()
	h, root, log := watchdogHost(t)
	if err := h.ArmWatchdog(ctx, watch(root)); err != nil {
		t.Fatal(err)
	}
	st, _ := h.Status(ctx)
	setRunning(t, root, 4)
	if err := h.ConfirmWatchdog(ctx, "run-1"); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(st.Watchdog.PID, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("the watchdog (pid %d) still runs after the confirm", st.Watchdog.PID)
	}
	time.Sleep(2 * time.Second) // past the confirm timeout
	if data, _ := os.ReadFile(log); len(data) != 0 {
		t.Errorf("a confirmed activation was rolled back: %s", data)
	}
	if g, _ := h.Generation(ctx); g != 4 {
		t.Errorf("generation %d, want 4", g)
	}
	if err := h.ConfirmWatchdog(ctx, "run-1"); err == nil || errors.Is(err, ErrRolledBackByHost) {
		t.Errorf("confirming twice: %v", err)
	}
}

// A pending watchdog is reported to the next run and left alone.
func TestWatchdogPendingIsReported(t *testing.T) {
	ctx := context.Background()
	h, root, _ := watchdogHost(t)
	w := watch(root)
	w.Confirm = time.Hour
	if err := h.ArmWatchdog(ctx, w); err != nil {
		t.Fatal(err)
	}
	w.RunID = "run-2"
	var pe *WatchdogPendingError
	if err := h.ArmWatchdog(ctx, w); !errors.As(err, &pe) || pe.Pending.RunID != "run-1" || !strings.Contains(err.Error(), "run run-1 is pending") {
		t.Fatalf("second arm: %v", err)
	}
	if err := h.ConfirmWatchdog(ctx, "run-1"); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []Watchdog{{RunID: "a b", Action: "switch", Generation: 1}, {RunID: "r", Action: "boot", Generation: 1}, {RunID: "r", Action: "switch"}} {
		if err := h.ArmWatchdog(ctx, bad); err == nil {
			t.Errorf("%+v should be refused", bad)
		}
	}
}
