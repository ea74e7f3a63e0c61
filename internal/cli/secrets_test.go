package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nixctl/nixctl/internal/app"
	"github.com/nixctl/nixctl/internal/exitcode"
	"github.com/nixctl/nixctl/internal/ui"
)

// secretsFleet is a fleet directory and a private HOME for secrets commands.
type secretsFleet struct {
	t    *testing.T
	dir  string
	home string
	env  map[string]string
}

func newSecretsFleet(t *testing.T) *secretsFleet {
	t.Helper()
	f := &secretsFleet{t: t, dir: t.TempDir(), home: t.TempDir()}
	f.env = map[string]string{"HOME": f.home, "USER": "gabriel"}
	inv := "hosts:\n  - name: nixos-mini\n    address: 127.0.0.1\n"
	if err := os.WriteFile(filepath.Join(f.dir, "nixctl.yaml"), []byte(inv), 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

// run runs nixctl in the fleet directory and returns stdout, stderr, code.
func (f *secretsFleet) run(stdin string, args ...string) (string, string, int) {
	f.t.Helper()
	var out, errb bytes.Buffer
	deps := &app.Deps{Getenv: func(k string) string { return f.env[k] }, Cwd: f.dir, Now: time.Now, Version: "test"}
	code := run(context.Background(), deps, args, ui.Stdio{In: strings.NewReader(stdin), Out: &out, Err: &errb})
	return out.String(), errb.String(), code
}

func (f *secretsFleet) mustRun(stdin string, args ...string) string {
	f.t.Helper()
	out, errs, code := f.run(stdin, args...)
	if code != 0 {
		f.t.Fatalf("nixctl %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errs)
	}
	return out
}

func TestSecretsInitIsIdempotent(t *testing.T) {
	f := newSecretsFleet(t)
	out := f.mustRun("", "secrets", "init")
	keyFile := filepath.Join(f.home, ".config", "sops", "age", "keys.txt")
	if !strings.Contains(out, keyFile+" (created)") {
		t.Errorf("init output: %s", out)
	}
	key := readFile(t, keyFile)
	cfg := readFile(t, filepath.Join(f.dir, ".sops.yaml"))
	if !strings.Contains(cfg, "&gabriel age1") || !strings.Contains(cfg, "- *gabriel") {
		t.Errorf(".sops.yaml lacks the user's anchor:\n%s", cfg)
	}
	out = f.mustRun("", "secrets", "init")
	if !strings.Contains(out, "(exists)") || readFile(t, keyFile) != key || readFile(t, filepath.Join(f.dir, ".sops.yaml")) != cfg {
		t.Errorf("a second init changed something:\n%s", out)
	}
	if st, _ := os.Stat(keyFile); st.Mode().Perm() != 0o600 {
		t.Errorf("key mode %o", st.Mode().Perm())
	}
	if st, _ := os.Stat(filepath.Dir(keyFile)); st.Mode().Perm() != 0o700 {
		t.Errorf("key dir mode %o", st.Mode().Perm())
	}
}

func TestSecretsVerifyExitCodes(t *testing.T) {
	f := newSecretsFleet(t)
	f.mustRun("", "secrets", "init")
	if out := f.mustRun("", "secrets", "verify"); out != "" {
		t.Errorf("verify of an empty dir printed %q", out)
	}
	os.WriteFile(filepath.Join(f.dir, "secrets", "leak.yml"), []byte("password: hunter2\n"), 0o644)
	out, errs, code := f.run("", "secrets", "verify")
	if code != exitcode.Secrets {
		t.Fatalf("exit %d, want %d", code, exitcode.Secrets)
	}
	if !strings.Contains(out, "secrets/leak.yml\tPLAINTEXT") || !strings.Contains(errs, "secrets/leak.yml: PLAINTEXT") {
		t.Errorf("stdout %q stderr %q", out, errs)
	}
	if strings.Contains(out+errs, "hunter2") {
		t.Error("verify printed a plaintext value")
	}
	out, _, code = f.run("", "--json", "secrets", "verify")
	if code != exitcode.Secrets || !strings.Contains(out, `"status": "PLAINTEXT"`) || strings.Contains(out, "hunter2") {
		t.Errorf("json: exit %d\n%s", code, out)
	}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
