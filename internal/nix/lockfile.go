package nix

import (
	"os"
	"path/filepath"
	"strings"
)

// LocalFlakeDir returns the directory of a local flake reference (a path,
// path: or git+file:), relative ones taken from cwd.
func LocalFlakeDir(ref, cwd string) (string, bool) {
	for _, p := range []string{"path:", "git+file://"} {
		if strings.HasPrefix(ref, p) {
			ref = strings.TrimPrefix(ref, p)
			if i := strings.IndexAny(ref, "?#"); i >= 0 {
				ref = ref[:i]
			}
			break
		}
	}
	if strings.Contains(ref, ":") {
		return "", false
	}
	if !filepath.IsAbs(ref) {
		ref = filepath.Join(cwd, ref)
	}
	return filepath.Clean(ref), true
}

// LockMissing reports whether flake is a local flake with no flake.lock
// yet: the first nix process to lock it writes the file, and one that
// reads it at that moment can read it half written. Processes of such a
// flake start after the first one has locked it. (A stale lock is rewritten
// the same way, but only once its new inputs are fetched, well after every
// process started together has read it.)
func LockMissing(flake, cwd string) bool {
	dir, ok := LocalFlakeDir(flake, cwd)
	if !ok {
		return false
	}
	if _, err := os.Stat(filepath.Join(dir, "flake.nix")); err != nil {
		return false
	}
	_, err := os.Stat(filepath.Join(dir, "flake.lock"))
	return os.IsNotExist(err)
}
