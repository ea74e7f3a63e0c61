package execx

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// lookPath finds name in path (a PATH value) as exec.LookPath does in the
// process's own: a name with a slash is taken as it is, an empty entry is
// the working directory, and a match there is refused with exec.ErrDot.
func lookPath(name, path string) (string, error) {
	if strings.Contains(name, "/") {
		if err := executable(name); err != nil {
			return "", &exec.Error{Name: name, Err: err}
		}
		return name, nil
	}
	for _, dir := range filepath.SplitList(path) {
		if dir == "" {
			dir = "."
		}
		p := filepath.Join(dir, name)
		if executable(p) != nil {
			continue
		}
		if !filepath.IsAbs(p) {
			return p, &exec.Error{Name: name, Err: exec.ErrDot}
		}
		return p, nil
	}
	return "", &exec.Error{Name: name, Err: exec.ErrNotFound}
}

func executable(p string) error {
	st, err := os.Stat(p)
	if err != nil {
		return err
	}
	if st.IsDir() || st.Mode()&0o111 == 0 {
		return os.ErrPermission
	}
	return nil
}

// pathOf is the last PATH in env, as the child sees it.
func pathOf(env []string) string {
	for i := len(env) - 1; i >= 0; i-- {
		if v, ok := strings.CutPrefix(env[i], "PATH="); ok {
			return v
		}
	}
	return ""
}
