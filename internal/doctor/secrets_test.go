package doctor

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nixctl/nixctl/internal/execx"
	"github.com/nixctl/nixctl/internal/inventory"
	"github.com/nixctl/nixctl/internal/secrets"
	"github.com/nixctl/nixctl/internal/testutil"
)

// sops-nix's published test files: secrets.yaml is for two age recipients
// (one is the key in keys/age-keys.txt), secrets.json is for pgp only.
func corpusFleet(t *testing.T, files ...string) *inventory.Fleet {
	t.Helper()
	src := filepath.Join(testutil.WorldSops(t), "sops-nix")
	dir := t.TempDir()
	for _, f := range append([]string{".sops.yaml"}, files...) {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, f)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := testutil.CopyTree(filepath.Join(src, f), filepath.Join(dir, f)); err != nil {
			t.Fatal(err)
		}
	}
	return &inventory.Fleet{Dir: dir, Secrets: inventory.Secrets{Dir: "secrets", SopsConfig: ".sops.yaml"}}
}

func secretsCheck(t *testing.T, fleet *inventory.Fleet, env map[string]string) (Finding, bool) {
	t.Helper()
	home, r := t.TempDir(), &execx.Recorder{}
	e := Env{Runner: r, Home: home, Keys: secrets.Env{AgeKeyFile: env["SOPS_AGE_KEY_FILE"], Home: home, Runner: r}, Fleet: fleet}
	return secretsFinding(context.Background(), e)
}

func TestSecretsFindingSaysWhichFilesTheKeyOpens(t *testing.T) {
	t.Parallel()
	keyFile := filepath.Join(testutil.WorldSops(t), "sops-nix", "keys", "age-keys.txt")
	const mine = "age1yt3tfqlfrwdwx0z0ynwplcr6qxcxfaqycuprpmy89nr83ltx74tqdpszlw"

	f, ok := secretsCheck(t, corpusFleet(t, "secrets/secrets.yaml"), map[string]string{"SOPS_AGE_KEY_FILE": keyFile})
	if !ok || f.Status != OK || f.Detail != mine+" opens all 1 sops file" {
		t.Errorf("key of the file: %+v", f)
	}

	f, ok = secretsCheck(t, corpusFleet(t, "secrets/secrets.yaml", "secrets/secrets.json"), map[string]string{"SOPS_AGE_KEY_FILE": keyFile})
	if !ok || f.Status != Warn || f.Detail != mine+" is not a recipient of 1 of 2 sops files: secrets/secrets.json" || !strings.Contains(f.Hint, "add "+mine+" to their rule") {
		t.Errorf("a pgp-only file: %+v", f)
	}

	f, ok = secretsCheck(t, corpusFleet(t, "secrets/secrets.yaml"), nil)
	if !ok || f.Status != Warn || !strings.HasPrefix(f.Detail, "no age key here opens the 1 sops file") || f.Hint == "" {
		t.Errorf("no key: %+v", f)
	}

	if f, ok := secretsCheck(t, corpusFleet(t), map[string]string{"SOPS_AGE_KEY_FILE": keyFile}); ok {
		t.Errorf("no sops file yet, yet: %+v", f)
	}
}
