package ci

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/nixctl/nixctl/internal/inventory"
	"github.com/nixctl/nixctl/internal/secrets"
)

func TestSecretsStageReportsPlaintext(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	fleet := &inventory.Fleet{Dir: dir, Secrets: inventory.Secrets{Dir: "secrets", SopsConfig: ".sops.yaml"}}
	if err := os.MkdirAll(filepath.Join(dir, "secrets"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "secrets", "leak.yml"), []byte("password: hunter2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// No SOPS_AGE_KEY[_FILE]: structure and recipients only, no key needed.
	env := secrets.Env{Home: t.TempDir()}
	files, err := SecretsStage(env)(t.Context(), fleet)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 1 || files[0].Path != "secrets/leak.yml" || files[0].Status != "PLAINTEXT" || len(files[0].Problems) == 0 || files[0].Note != "" {
		t.Errorf("files = %+v", files)
	}
}
