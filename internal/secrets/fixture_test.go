package secrets

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nixctl/nixctl/internal/execx"
	"github.com/nixctl/nixctl/internal/fsx"
)

// fixture is a fleet directory with a secrets dir, a .sops.yaml and a user
// key in a private HOME.
type fixture struct {
	t         *testing.T
	repo      Repo
	home      string
	env       Env
	recipient string
	keyFile   string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	root, home := t.TempDir(), t.TempDir()
	f := &fixture{t: t, home: home}
	f.env = Env{Home: home, Runner: execx.NewReal()}
	f.repo = Repo{Root: root, Dir: filepath.Join(root, "secrets"), Config: filepath.Join(root, ".sops.yaml")}
	res, err := Init(f.repo, f.env, "gabriel", time.Now(), fsx.Disk{})
	if err != nil {
		t.Fatal(err)
	}
	f.recipient, f.keyFile = res.Recipient, res.KeyFile
	return f
}

func (f *fixture) session() *Session {
	f.t.Helper()
	s, err := NewSession(f.repo, LoadKeyring(context.Background(), f.env))
	if err != nil {
		f.t.Fatal(err)
	}
	return s
}

// add encrypts plain into rel (relative to the secrets dir).
func (f *fixture) add(rel string, plain []byte) string {
	f.t.Helper()
	path := filepath.Join(f.repo.Dir, rel)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		f.t.Fatal(err)
	}
	out, _, err := f.session().Encrypt(path, FormatOf(path), plain)
	if err != nil {
		f.t.Fatalf("encrypt %s: %v", rel, err)
	}
	if err := fsx.WriteFile(path, out, 0o644); err != nil {
		f.t.Fatal(err)
	}
	return path
}

func (f *fixture) open(path string) []byte {
	f.t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		f.t.Fatal(err)
	}
	o, err := f.session().Open(path, data)
	if err != nil {
		f.t.Fatalf("open %s: %v", path, err)
	}
	plain, err := o.Plaintext()
	if err != nil {
		f.t.Fatal(err)
	}
	return plain
}

// sops runs the real sops CLI with only the given key file.
func sopsCmd(t *testing.T, dir, keyFile string, args ...string) ([]byte, error) {
	t.Helper()
	cmd := exec.Command("sops", args...)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "SOPS_AGE_KEY_FILE=" + keyFile}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, &sopsError{err: err, stderr: strings.TrimSpace(stderr.String())}
	}
	return out, nil
}

type sopsError struct {
	err    error
	stderr string
}

func (e *sopsError) Error() string { return e.err.Error() + ": " + e.stderr }

// writeKey writes a fresh age key file and returns it with its recipient.
func writeKey(t *testing.T) (file, recipient string) {
	t.Helper()
	dir := t.TempDir()
	env := Env{AgeKeyFile: filepath.Join(dir, "keys.txt"), Home: dir}
	res, err := Init(Repo{Root: dir, Dir: filepath.Join(dir, "s"), Config: filepath.Join(dir, ".sops.yaml")}, env, "other", time.Now(), fsx.Disk{})
	if err != nil {
		t.Fatal(err)
	}
	return res.KeyFile, res.Recipient
}

func (f *fixture) now() time.Time { return time.Now() }

// addKey adds recipient as name to every rule of c and returns the result.
func addKey(t *testing.T, c *SopsConfig, name, recipient string) *SopsConfig {
	t.Helper()
	e, err := c.AddRecipient(EveryRule(), NewRecipient{Name: name, Key: Key{Type: "age", Value: recipient}, Group: -1})
	if err != nil {
		t.Fatal(err)
	}
	return e.After
}

// removeKey takes the key anchored as name out of every rule of c.
func removeKey(t *testing.T, c *SopsConfig, name string) *SopsConfig {
	t.Helper()
	v, ok := c.Anchor(name)
	if !ok {
		t.Fatalf("no anchor %s", name)
	}
	e, err := c.RemoveRecipient(EveryRule(), Key{Type: "age", Value: v})
	if err != nil {
		t.Fatal(err)
	}
	return e.After
}
