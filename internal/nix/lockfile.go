package nix

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
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

// LockMissing reports whether flake is a local flake with inputs and no
// flake.lock yet: the first nix process to lock it writes the file, and one
// that reads it at that moment can read it half written. Processes of such
// a flake start after the first one has locked it. (A stale lock is
// rewritten the same way, but only once its new inputs are fetched, well
// after every process started together has read it.) Nix writes no lock
// for a flake without inputs: its processes never wait.
func LockMissing(flake, cwd string) bool {
	dir, ok := LocalFlakeDir(flake, cwd)
	if !ok {
		return false
	}
	text, err := os.ReadFile(filepath.Join(dir, "flake.nix"))
	if err != nil || !mayHaveInputs(text) {
		return false
	}
	_, err = os.Stat(filepath.Join(dir, "flake.lock"))
	return os.IsNotExist(err)
}

// outputsFormals are the arguments outputs destructures ({ self, nixpkgs,
// ... }), each an input nix locks even when no inputs attribute names it.
var outputsFormals = regexp.MustCompile(`outputs\s*=\s*(?:[A-Za-z_][\w'-]*\s*@\s*)?\{([^}]*)\}`)

// mayHaveInputs reads flake.nix as text: a flake that never says "inputs"
// and whose outputs take only self has none. Anything else may have some
// (an answer of yes only makes processes wait for the first).
func mayHaveInputs(flakeNix []byte) bool {
	if bytes.Contains(flakeNix, []byte("inputs")) {
		return true
	}
	m := outputsFormals.FindSubmatch(flakeNix)
	if m == nil {
		return true
	}
	for _, f := range strings.Split(string(m[1]), ",") {
		name := strings.TrimSpace(f)
		if i := strings.IndexAny(name, " \t\n?"); i >= 0 {
			name = name[:i]
		}
		if name != "" && name != "self" && name != "..." {
			return true
		}
	}
	return false
}

// GetFlakeRef is the reference builtins.getFlake must be given to see the
// flake nix eval DIR#… sees, and the flake's directory below the source's
// outPath ("" for the root). On the command line nix makes a directory
// inside a git work tree a git+file flake (tracked files only, ?dir= for a
// subdirectory); builtins.getFlake takes a bare path as path:, which copies
// untracked files too, so a deploy could evaluate files git does not know.
func GetFlakeRef(flake string) (ref, subdir string) {
	if !filepath.IsAbs(flake) {
		return flake, ""
	}
	dir := filepath.Clean(flake)
	for root := dir; ; {
		if _, err := os.Stat(filepath.Join(root, ".git")); err == nil {
			ref := "git+file://" + root
			if sub, err := filepath.Rel(root, dir); err == nil && sub != "." {
				return ref + "?dir=" + sub, sub
			}
			return ref, ""
		}
		parent := filepath.Dir(root)
		if parent == root {
			return flake, ""
		}
		root = parent
	}
}

// getFlake is the Nix expression of the flake, and of its root directory
// (a string) given that expression's name.
func getFlake(flake string) (expr string, root func(name string) string) {
	ref, sub := GetFlakeRef(flake)
	return "builtins.getFlake " + StringLiteral(ref), func(name string) string {
		if sub == "" {
			return "(toString " + name + ".outPath)"
		}
		return "(toString " + name + ".outPath + " + StringLiteral("/"+sub) + ")"
	}
}
