package hostops

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nixctl/nixctl/internal/testutil"
)

func TestDeployLockAcquireHeldBreakRelease(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h, root := newLocalHost(t)
	mine := LockInfo{RunID: "run-1", Who: "alice@laptop", Action: "switch", Started: time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC)}
	if err := h.AcquireDeployLock(ctx, mine, false); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(root, DeployLockPath, "info"))
	if err != nil || !strings.Contains(string(data), `"runId":"run-1"`) {
		t.Fatalf("lock record %s (%v)", data, err)
	}

	// Held: the holder's record comes back, the lock stays.
	err = h.AcquireDeployLock(ctx, LockInfo{RunID: "run-2", Who: "bob@desk"}, false)
	var held *LockHeldError
	if !errors.As(err, &held) || held.Info.Who != "alice@laptop" || held.Info.RunID != "run-1" {
		t.Fatalf("want the lock held by alice, got %v", err)
	}

	// Another run's release leaves it alone.
	if err := h.ReleaseDeployLock(ctx, LockInfo{RunID: "run-2", Result: "ok"}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, DeployLockPath)); err != nil {
		t.Fatal("another run's release removed the lock")
	}
	if _, err := os.Stat(filepath.Join(root, LastDeployPath)); err == nil {
		t.Fatal("another run's release wrote the record")
	}

	// Broken: taken over.
	if err := h.AcquireDeployLock(ctx, LockInfo{RunID: "run-3", Who: "bob@desk"}, true); err != nil {
		t.Fatalf("--break-lock: %v", err)
	}
	rec := LockInfo{RunID: "run-3", Who: "bob@desk", Result: "ok", Generation: 4}
	if err := h.ReleaseDeployLock(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, DeployLockPath)); !os.IsNotExist(err) {
		t.Errorf("the lock must be gone: %v", err)
	}
	var got LockInfo
	data, _ = os.ReadFile(filepath.Join(root, LastDeployPath))
	if err := json.Unmarshal(data, &got); err != nil || got.RunID != "run-3" || got.Generation != 4 {
		t.Errorf("last deploy record %s (%v)", data, err)
	}
	if st, _ := os.Stat(filepath.Join(root, LastDeployPath)); st.Mode().Perm() != 0o644 {
		t.Errorf("record mode %v", st.Mode())
	}
}

// A Home Manager activation holding the home lock keeps the deploy out, and
// the refused deploy leaves no lock of its own.
func TestDeployLockRefusedDuringHomeActivation(t *testing.T) {
	t.Parallel()
	testutil.Require(t, "flock", "sleep")
	h, root := newLocalHost(t)
	dir := filepath.Join(root, "run/lock/nixctl")
	if err := os.MkdirAll(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	release := holdFlock(t, dir)
	err := h.AcquireDeployLock(context.Background(), LockInfo{RunID: "r", Who: "alice"}, false)
	var held *LockHeldError
	if !errors.As(err, &held) || held.Info.Action != "home switch" || !strings.Contains(held.Info.Who, "Home Manager activation") {
		t.Fatalf("want the home activation named, got %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, DeployLockPath)); !os.IsNotExist(err) {
		t.Error("a refused deploy must not leave its lock")
	}
	release()
	if err := h.AcquireDeployLock(context.Background(), LockInfo{RunID: "r", Who: "alice"}, false); err != nil {
		t.Fatalf("after the activation: %v", err)
	}
}

// holdFlock holds an flock on dir (as a running activation does) until the
// returned function is called or the test ends.
func holdFlock(t *testing.T, dir string) func() {
	t.Helper()
	holder := exec.Command("flock", dir, "sleep", "60")
	holder.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	done := false
	release := func() {
		if !done {
			done = true
			_ = syscall.Kill(-holder.Process.Pid, syscall.SIGKILL)
			_ = holder.Wait()
		}
	}
	t.Cleanup(release)
	for i := 0; exec.Command("flock", "-n", dir, "true").Run() == nil; i++ {
		if i > 500 {
			t.Fatal("could not take the lock")
		}
		time.Sleep(10 * time.Millisecond)
	}
	return release
}
