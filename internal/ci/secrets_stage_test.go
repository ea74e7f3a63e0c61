package ci

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/nixctl/nixctl/internal/inventory"
)

func TestDefaultSecretsVerifierReportsPlaintext(t *testing.T) {
	dir := t.TempDir()
	fleet := &inventory.Fleet{Dir: dir, Secrets: inventory.Secrets{Dir: "secrets", SopsConfig: ".sops.yaml"}}
	os.MkdirAll(filepath.Join(dir, "secrets"), 0o755)
	os.WriteFile(filepath.Join(dir, "secrets", "leak.yml"), []byte("password: hunter2\n"), 0o644)
	files, err := DefaultSecretsVerifier()(t.Context(), fleet)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 1 || files[0].Path != "secrets/leak.yml" || files[0].Status != "PLAINTEXT" || len(files[0].Problems) == 0 {
		t.Errorf("files = %+v", files)
	}
}
