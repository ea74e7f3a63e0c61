package testutil

import (
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"testing"
)

// Helpers for running programs as an unprivileged user on a multi-user Nix
// (see NixDaemon): a user's own directories, the per-user Nix directories
// Debian's nix does not create, and the command line that runs as the user.

// PublicTempDir is a fresh directory that every user can read and enter
// (t.TempDir's parents are private to root), removed when the test ends:
// for programs that other users run, such as a fake on a host's PATH.
func PublicTempDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "nixctl-public-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { removeAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// UserDir is a fresh directory owned by user, in a PublicTempDir.
func UserDir(t testing.TB, name string) string {
	t.Helper()
	dir := filepath.Join(PublicTempDir(t), name)
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	ChownTree(t, dir, name)
	return dir
}

// ChownTree gives dir and everything under it to user (and its group).
func ChownTree(t testing.TB, dir, name string) {
	t.Helper()
	uid, gid := ids(t, name)
	err := filepath.Walk(dir, func(path string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(path, uid, gid)
	})
	if err != nil {
		t.Fatalf("chown %s to %s: %v", dir, name, err)
	}
}

// PerUserNixDirs creates /nix/var/nix/profiles/per-user/USER and
// /nix/var/nix/gcroots/per-user/USER owned by the user, as a multi-user
// Nix installer does, and returns the profiles one. Entries the test adds
// there (profiles and their generation links) are removed when it ends.
func PerUserNixDirs(t testing.TB, name string) string {
	t.Helper()
	uid, gid := ids(t, name)
	profiles := filepath.Join("/nix/var/nix/profiles/per-user", name)
	for _, d := range []string{profiles, filepath.Join("/nix/var/nix/gcroots/per-user", name)} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(d, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	before := entries(t, profiles)
	t.Cleanup(func() {
		for e := range entries(t, profiles) {
			if !before[e] {
				_ = os.Remove(filepath.Join(profiles, e))
			}
		}
	})
	return profiles
}

// AsUser is the command that runs argv as user with exactly env (and
// nothing inherited), in dir: runuser -u USER -- env -i K=V… ARGV.
func AsUser(name, dir string, env map[string]string, argv ...string) *exec.Cmd {
	args := []string{"-u", name, "--", "env", "-i"}
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		args = append(args, k+"="+env[k])
	}
	cmd := exec.Command("runuser", append(args, argv...)...)
	cmd.Dir = dir
	return cmd
}

func ids(t testing.TB, name string) (uid, gid int) {
	t.Helper()
	u, err := user.Lookup(name)
	if err != nil {
		t.Fatalf("user %s: %v", name, err)
	}
	uid, _ = strconv.Atoi(u.Uid)
	gid, _ = strconv.Atoi(u.Gid)
	return uid, gid
}

func entries(t testing.TB, dir string) map[string]bool {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, d := range des {
		out[d.Name()] = true
	}
	return out
}

// removeAll removes dir even when it holds read-only store copies.
func removeAll(dir string) {
	_ = filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
		if err == nil && info.IsDir() {
			_ = os.Chmod(path, 0o755)
		}
		return nil
	})
	_ = os.RemoveAll(dir)
}
