package cli

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// nixctlBinary links this test binary as "nixctl": TestMain runs Main when
// it is started under that name.
func nixctlBinary(t *testing.T) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "nixctl")
	if err := os.Symlink(self, bin); err != nil {
		t.Fatal(err)
	}
	return bin
}

// SIGINT while the editor is open: the editor is stopped, the plaintext and
// its directory are removed, the secret is byte-identical, exit 130.
func TestSecretsEditInterruptedLeavesNothing(t *testing.T) {
	t.Parallel()
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			f := newSecretsFleet(t)
			path := f.addKubeconfig()
			before := readFile(t, path)
			runtimeDir := t.TempDir()
			marker := filepath.Join(t.TempDir(), "opened")
			// EDITOR carries an argument, as "code --wait" does.
			editor := writeEditor(t, `[ "$1" = --wait ] || exit 3
echo "$2" > `+marker+`.tmp && mv `+marker+`.tmp `+marker+`
exec sleep 300
`)
			cmd := exec.Command(nixctlBinary(t), "secrets", "edit", "kubeconfig/nixos-mini.yml")
			cmd.Dir = f.dir
			cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + f.home, "USER=gabriel", "XDG_RUNTIME_DIR=" + runtimeDir, "EDITOR=" + editor + " --wait", "NO_COLOR=1"}
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			var plain string
			for plain == "" {
				select {
				case err := <-done:
					t.Fatalf("nixctl ended before the editor opened: %v\n%s", err, stderr.String())
				case <-time.After(20 * time.Millisecond):
				}
				if b, err := os.ReadFile(marker); err == nil {
					plain = strings.TrimSpace(string(b))
				}
			}
			st, err := os.Stat(plain)
			if err != nil || st.Mode().Perm() != 0o600 || !strings.HasPrefix(plain, runtimeDir) {
				t.Fatalf("plaintext file %s: %v %v", plain, st.Mode(), err)
			}
			if dst, _ := os.Stat(filepath.Dir(plain)); dst.Mode().Perm() != 0o700 {
				t.Errorf("edit directory mode %o", dst.Mode().Perm())
			}
			if !strings.Contains(readFile(t, plain), "very-secret-token") {
				t.Error("the editor did not get the plaintext")
			}
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			err = <-done
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 130 {
				t.Errorf("exit: %v, want 130\n%s", err, stderr.String())
			}
			if _, err := os.Stat(plain); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("plaintext %s still exists", plain)
			}
			if entries, _ := os.ReadDir(runtimeDir); len(entries) != 0 {
				t.Errorf("left in XDG_RUNTIME_DIR: %v", entries)
			}
			if readFile(t, path) != before {
				t.Error("the secret changed")
			}
			if !strings.Contains(stderr.String(), "unchanged") || strings.Contains(stderr.String(), "very-secret-token") {
				t.Errorf("stderr: %s", stderr.String())
			}
		})
	}
}
