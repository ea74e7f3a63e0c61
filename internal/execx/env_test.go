package execx

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// A runner given an environment starts every child in it, not in the test
// process's own, and finds commands in its PATH.
func TestRealRunsChildrenInItsEnvironment(t *testing.T) {
	t.Parallel()
	bin := t.TempDir()
	script := "#!/bin/sh\necho \"$GREETING $NIXCTL_X ${HOME:-nohome}\"\n"
	if err := os.WriteFile(filepath.Join(bin, "greet"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	r := &Real{Env: []string{"PATH=" + bin + ":/usr/bin:/bin", "GREETING=hello"}}
	if p, err := r.LookPath("greet"); err != nil || p != filepath.Join(bin, "greet") {
		t.Errorf("LookPath(greet) = %q, %v", p, err)
	}
	res, err := r.Run(context.Background(), Cmd{Argv: []string{"greet"}, Env: []string{"NIXCTL_X=x"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(res.Stdout)); got != "hello x nohome" {
		t.Errorf("child printed %q, want its own environment: hello x nohome", got)
	}
	// The test process's PATH finds sh and ls; the runner's does not.
	r = &Real{Env: []string{"PATH=" + bin}}
	if _, err := r.LookPath("ls"); !errors.Is(err, exec.ErrNotFound) {
		t.Errorf("LookPath(ls) outside the runner's PATH: %v", err)
	}
	_, err = r.Run(context.Background(), Cmd{Argv: []string{"ls"}})
	var ee *ExitError
	if !errors.As(err, &ee) || !errors.Is(err, exec.ErrNotFound) {
		t.Errorf("running ls outside the runner's PATH: %v", err)
	}
}

func TestLookPathFollowsExec(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for name, mode := range map[string]os.FileMode{"tool": 0o755, "plain": 0o644} {
		if err := os.WriteFile(filepath.Join(dir, name), nil, mode); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "adir"), 0o755); err != nil {
		t.Fatal(err)
	}
	empty := t.TempDir()
	for _, c := range []struct {
		name, path, want string
		err              error
	}{
		{"tool", empty + ":" + dir, filepath.Join(dir, "tool"), nil},
		{"plain", dir, "", exec.ErrNotFound},
		{"adir", dir, "", exec.ErrNotFound},
		{"tool", "", "", exec.ErrNotFound},
		{filepath.Join(dir, "tool"), "", filepath.Join(dir, "tool"), nil},
		{"tool", "relative-dir:" + dir, filepath.Join(dir, "tool"), nil},
	} {
		got, err := lookPath(c.name, c.path)
		if got != c.want || !errors.Is(err, c.err) {
			t.Errorf("lookPath(%q, %q) = %q, %v; want %q, %v", c.name, c.path, got, err, c.want, c.err)
		}
	}
}
