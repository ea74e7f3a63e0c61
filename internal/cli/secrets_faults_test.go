package cli

import (
	"os"
	"path/filepath"
	"regexp"
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
	secretsToRekeyConfig(t, f)
}

// secretsToRekeyConfig adds a recipient to .sops.yaml.
func secretsToRekeyConfig(t *testing.T, f *secretsFleet) {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	c, err := secrets.LoadSopsConfig(filepath.Join(f.dir, ".sops.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	edit, err := c.AddRecipient(secrets.EveryRule(), secrets.NewRecipient{Name: "laptop", Key: secrets.Key{Type: "age", Value: id.Recipient().String()}, Group: -1})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(c.Path, edit.Data(), 0o644); err != nil {
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
	if strings.Contains(out+errs, ".tmp-") {
		t.Errorf("errors name the temporary file:\n%s%s", out, errs)
	}
	sameFiles(t, before, treeOf(t, f.dir))
}

// A read-only secrets directory (a read-only mount stops root too): add and
// rekey fail with the file system's reason; every file is byte-identical and
// no temp file is left.
func TestSecretsWritesOnReadOnlyDirectory(t *testing.T) {
	t.Parallel()
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
	t.Parallel()
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

// damagedSecrets adds to f's fleet a good secret and three damaged ones: a
// value altered in place (tampered), a file cut in half (truncated) and a
// file encrypted for another key only (foreign). It returns their paths
// relative to the secrets directory.
func damagedSecrets(t *testing.T, f *secretsFleet) (good string, damaged map[string]string) {
	t.Helper()
	f.addKubeconfig()
	good = "kubeconfig/nixos-mini.yml"
	dir := filepath.Join(f.dir, "secrets")
	f.mustRun("password: hunter2\nuser: app\n", "secrets", "add", "app", "tampered", "--from", "-")
	tampered := filepath.Join(dir, "app", "tampered.yml")
	enc := readFile(t, tampered)
	i := strings.Index(enc, "ENC[AES256_GCM,data:") + len("ENC[AES256_GCM,data:")
	flip := "A"
	if enc[i] == 'A' {
		flip = "B"
	}
	testutil.WriteFiles(t, dir, map[string]string{"app/tampered.yml": enc[:i] + flip + enc[i+1:]})

	f.mustRun(`{"password": "hunter2", "list": [1, 2, 3]}`, "secrets", "add", "app", "truncated", "--from", "-")
	truncated := readFile(t, filepath.Join(dir, "app", "truncated.json"))
	testutil.WriteFiles(t, dir, map[string]string{"app/truncated.json": truncated[:len(truncated)/2]})

	other := newSecretsFleet(t)
	other.env["USER"] = "mallory"
	other.mustRun("", "secrets", "init")
	other.mustRun("token: theirs\n", "secrets", "add", "app", "foreign", "--from", "-")
	testutil.WriteFiles(t, dir, map[string]string{"app/foreign.yml": readFile(t, filepath.Join(other.dir, "secrets", "app", "foreign.yml"))})
	return good, map[string]string{"app/tampered.yml": "tampered", "app/truncated.json": "truncated", "app/foreign.yml": "foreign"}
}

// Tampered, truncated and wrongly-keyed files: cat, verify, list and rekey
// each report them (one clear line, never a panic) and change nothing; the
// good file next to them still works.
func TestSecretsDamagedFilesAreReported(t *testing.T) {
	t.Parallel()
	f := newSecretsFleet(t)
	good, damaged := damagedSecrets(t, f)
	before := treeOf(t, f.dir)
	if out := f.mustRun("", "secrets", "cat", good); !strings.Contains(out, "very-secret-token") {
		t.Errorf("cat of the good file: %q", out)
	}
	// What cat and rekey say about each file, and its status in verify and list.
	says := map[string]struct{ err, status string }{
		"tampered":  {"its ciphertext was altered", "MAC invalid"},
		"truncated": {"does not parse (truncated?)", "unreadable"},
		"foreign":   {"no age key here can decrypt it", "recipients differ from .sops.yaml"},
	}
	out, errs, code := f.run("", "secrets", "verify")
	if code != exitcode.Secrets {
		t.Errorf("verify: exit %d", code)
	}
	oneError(t, errs, "3 problem(s) in secrets")
	list := f.mustRun("", "secrets", "list")
	for p, kind := range damaged {
		for what, text := range map[string]string{"verify": out, "list": list} {
			if !regexpMatch(`(?m)^.*secrets/`+regexp.QuoteMeta(p)+`\s.*`+regexp.QuoteMeta(says[kind].status)+`$`, text) {
				t.Errorf("%s should show %s as %q:\n%s", what, p, says[kind].status, text)
			}
		}
	}
	if !regexpMatch(`secrets/`+good+`\s.*ok`, list) {
		t.Errorf("list:\n%s", list)
	}

	// A new reader in .sops.yaml: rekey has every file to rewrite.
	secretsToRekeyConfig(t, f)
	for p, kind := range damaged {
		_, errs, code := f.run("", "secrets", "cat", p)
		if code != exitcode.Secrets {
			t.Errorf("cat %s: exit %d", kind, code)
		}
		oneError(t, errs, "secrets/"+p+": ")
		oneError(t, errs, says[kind].err)
		out, errs, code := f.run("", "secrets", "rekey", p)
		if code != exitcode.Secrets || !strings.Contains(out, "secrets/"+p+": ") || !strings.Contains(out, says[kind].err) {
			t.Errorf("rekey %s: exit %d\n%s", kind, code, out)
		}
		oneError(t, errs, "1 of 1 file(s) could not be rekeyed")
	}
	_, errs, code = f.run("", "secrets", "rekey")
	if code != exitcode.Secrets {
		t.Errorf("rekey: exit %d", code)
	}
	oneError(t, errs, "3 of 4 file(s) could not be rekeyed")
	// Only the good file (and .sops.yaml, edited above) changed.
	after := treeOf(t, f.dir)
	if after["secrets/"+good] == before["secrets/"+good] {
		t.Error("the good file was not rekeyed")
	}
	for _, p := range []string{"secrets/" + good, ".sops.yaml"} {
		delete(before, p)
		delete(after, p)
	}
	sameFiles(t, before, after)
}
