package secrets

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/nixctl/nixctl/internal/fault"
)

// CheckName refuses a name that could leave the secrets directory or hide:
// empty, ".", "..", a leading dot, a slash, a backslash, NUL or a newline.
func CheckName(what, name string) error {
	hint := what + "s are plain names such as kubeconfig or nixos-mini"
	switch {
	case name == "":
		return fault.Usagef(hint, "empty %s", what)
	case strings.ContainsAny(name, "\x00\n\r"):
		return fault.Usagef(hint, "%s %q contains a NUL or newline", what, name)
	case name == "." || name == "..":
		return fault.Usagef(hint, "%s %q would leave the secrets directory", what, name)
	case strings.HasPrefix(name, "."):
		return fault.Usagef(hint, "%s %q is hidden (starts with a dot)", what, name)
	case strings.ContainsAny(name, `/\`):
		return fault.Usagef(hint, "%s %q contains a path separator", what, name)
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f {
			return fault.Usagef(hint, "%s %q contains a control character", what, name)
		}
	}
	return nil
}

// Resolve turns a path a user typed (relative to the secrets directory, or
// starting with the secrets directory's own path from the fleet root) into an
// absolute path inside the secrets directory. Absolute paths, "..", hidden
// components, NUL and newlines are refused, and so is a path whose directories
// are symbolic links leading out of the secrets directory.
func (r Repo) Resolve(p string) (string, error) {
	hint := "name a file under " + r.Rel(r.Dir) + "/, such as kubeconfig/nixos-mini.yml"
	if strings.ContainsAny(p, "\x00\n\r") {
		return "", fault.Usagef(hint, "path %q contains a NUL or newline", p)
	}
	if p == "" {
		return "", fault.Usagef(hint, "empty path")
	}
	if filepath.IsAbs(p) {
		return "", fault.Usagef(hint, "absolute path %q: paths are relative to the secrets directory", p)
	}
	p = filepath.ToSlash(p)
	if prefix := filepath.ToSlash(r.Rel(r.Dir)) + "/"; strings.HasPrefix(p, prefix) {
		p = strings.TrimPrefix(p, prefix)
	}
	for _, part := range strings.Split(p, "/") {
		if part == ".." {
			return "", fault.Usagef(hint, "path %q leaves the secrets directory", p)
		}
		if err := CheckName("path component", part); err != nil {
			return "", fault.Usagef(hint, "path %q: %v", p, err)
		}
	}
	abs := filepath.Join(r.Dir, filepath.FromSlash(p))
	if err := r.checkInside(filepath.Dir(abs)); err != nil {
		return "", err
	}
	return abs, nil
}

// checkInside makes sure dir, once symbolic links are followed, is still
// inside the secrets directory. A directory that does not exist yet is fine.
func (r Repo) checkInside(dir string) error {
	real, err := filepath.EvalSymlinks(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	base, err := filepath.EvalSymlinks(r.Dir)
	if err != nil {
		return err
	}
	if real != base && !strings.HasPrefix(real, base+string(filepath.Separator)) {
		return fault.Newf(fault.Usage, "replace the symbolic link by a directory", "%s leads outside the secrets directory (to %s)", r.Rel(dir), real)
	}
	return nil
}

// readSecret reads a regular file under the secrets directory, refusing
// symbolic links and special files.
func readSecret(path string) ([]byte, os.FileInfo, error) {
	st, err := os.Lstat(path)
	if err != nil {
		return nil, nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, st, fmt.Errorf("%s is not a regular file", filepath.Base(path))
	}
	if st.Size() > maxSecretSize {
		return nil, st, fmt.Errorf("%s is %d bytes, more than the %d nixctl reads", filepath.Base(path), st.Size(), maxSecretSize)
	}
	data, err := os.ReadFile(path)
	return data, st, err
}

// maxSecretSize bounds what nixctl reads into memory.
const maxSecretSize = 16 << 20

// Files lists the files under the secrets directory, relative to it (for
// shell completion); hidden entries are left out.
func (r Repo) Files() []string {
	var out []string
	_ = filepath.WalkDir(r.Dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if strings.HasPrefix(d.Name(), ".") && p != r.Dir {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.Type().IsRegular() {
			if rel, err := filepath.Rel(r.Dir, p); err == nil {
				out = append(out, filepath.ToSlash(rel))
			}
		}
		return nil
	})
	return out
}
