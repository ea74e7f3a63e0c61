package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/nixctl/nixctl/internal/exitcode"
	"github.com/nixctl/nixctl/internal/secrets"
	"github.com/nixctl/nixctl/internal/testutil"
)

// sameFiles (of two treeOf) fails when a file changed, appeared (a temp file left behind)
// or went away.
func sameFiles(t *testing.T, before, after map[string]string) {
	t.Helper()
	for p, b := range before {
		if a, ok := after[p]; !ok {
			t.Errorf("%s is gone", p)
		} else if a != b {
			t.Errorf("%s changed", p)
		}
	}
	for p := range after {
		if _, ok := before[p]; !ok {
			t.Errorf("%s was left behind", p)
		}
	}
}

// oneError checks that a failed command said why in one error line (and
// perhaps a hint) mentioning want, and did not panic.
func oneError(t *testing.T, errs, want string) {
	t.Helper()
	if strings.Count(errs, "nixctl: error:") != 1 || !strings.Contains(errs, want) || strings.Contains(errs, "panic") {
		t.Errorf("want one error line saying %q, got:\n%s", want, errs)
	}
}

// secretsToRekey is a fleet with two secrets and a recipient added to
// .sops.yaml since, so that rekey has every file to rewrite.
func secretsToRekey(t *testing.T, f *secretsFleet) {
	t.Helper()
	f.addKubeconfig()
	f.mustRun("A=1\n", "secrets", "add", "app", "env", "--from", "-")
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	c, err := secrets.LoadSopsConfig(filepath.Join(f.dir, ".sops.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.AddRecipient("laptop", id.Recipient().String(), ""); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(c.Path, c.Data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// writesFail runs add, add --force and rekey where nothing can be written
// and checks that each says why in one line and that no file in the fleet
// changed.
func writesFail(t *testing.T, f *secretsFleet, reason string) {
	t.Helper()
	before := treeOf(t, f.dir)
	_, errs, code := f.run("token: new\n", "secrets", "add", "app", "new", "--from", "-")
	if code == 0 {
		t.Error("add succeeded")
	}
	oneError(t, errs, "writing secrets/app/new.yml: ")
	oneError(t, errs, reason)
	_, errs, code = f.run("B=2\n", "secrets", "add", "app", "env", "--from", "-", "--force")
	if code == 0 {
		t.Error("add --force succeeded")
	}
	oneError(t, errs, reason)
	out, errs, code := f.run("", "secrets", "rekey")
	if code != exitcode.Secrets {
		t.Errorf("rekey: exit %d, want %d", code, exitcode.Secrets)
	}
	oneError(t, errs, "2 of 2 file(s) could not be rekeyed")
	for _, p := range []string{"secrets/kubeconfig/nixos-mini.yml", "secrets/app/env.env"} {
		if !strings.Contains(out, p+": writing: ") || !strings.Contains(out, reason) {
			t.Errorf("rekey should say why %s was not written:\n%s", p, out)
		}
	}
	sameFiles(t, before, treeOf(t, f.dir))
}

// A read-only secrets directory (a read-only mount stops root too): add and
// rekey fail with the file system's reason; every file is byte-identical and
// no temp file is left.
func TestSecretsWritesOnReadOnlyDirectory(t *testing.T) {
	f := newSecretsFleet(t)
	secretsToRekey(t, f)
	dir := filepath.Join(f.dir, "secrets")
	testutil.MountReadOnly(t, dir)
	writesFail(t, f, "read-only file system")
}

// A full disk (the fleet on a 64 KiB tmpfs, filled up): add and rekey fail
// with "no space left on device"; every file is byte-identical and no temp
// file is left.
func TestSecretsWritesOnFullDisk(t *testing.T) {
	f := newSecretsFleet(t)
	inventory := readFile(t, filepath.Join(f.dir, "nixctl.yaml"))
	testutil.MountTmpfs(t, f.dir, 64<<10)
	testutil.WriteFiles(t, f.dir, map[string]string{"nixctl.yaml": inventory})
	secretsToRekey(t, f)
	filler, err := os.Create(filepath.Join(f.dir, "filler"))
	if err != nil {
		t.Fatal(err)
	}
	for chunk := make([]byte, 4096); ; {
		if _, err := filler.Write(chunk); err != nil {
			break
		}
	}
	if err := filler.Close(); err != nil {
		t.Fatal(err)
	}
	writesFail(t, f, "no space left on device")
}
