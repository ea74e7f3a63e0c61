package testutil

import (
	"os"
	"os/exec"
	"strconv"
	"testing"
)

// MountTmpfs mounts a tmpfs of size bytes on dir (a full disk, for tests
// that write into it) and unmounts it when the test ends. It needs root.
func MountTmpfs(t testing.TB, dir string, size int) {
	t.Helper()
	mount(t, dir, []string{"-t", "tmpfs", "-o", "size=" + strconv.Itoa(size), "tmpfs", dir})
}

// MountReadOnly makes dir a read-only file system (a read-only bind mount of
// itself: unlike a mode, it stops root too) until the test ends.
func MountReadOnly(t testing.TB, dir string) {
	t.Helper()
	mount(t, dir, []string{"--bind", dir, dir})
	if out, err := exec.Command("mount", "-o", "remount,bind,ro", dir).CombinedOutput(); err != nil {
		t.Fatalf("remounting %s read-only: %v: %s", dir, err, out)
	}
}

func mount(t testing.TB, dir string, args []string) {
	t.Helper()
	Require(t, "mount", "umount")
	if os.Geteuid() != 0 {
		if InCI() {
			t.Fatal("mounting a file system needs root; CI runs as root")
		}
		t.Skip("mounting a file system needs root (CI=true makes this a failure)")
	}
	if out, err := exec.Command("mount", args...).CombinedOutput(); err != nil {
		t.Fatalf("mount %v: %v: %s", args, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
}
