package testutil

import (
	"os"
	"path/filepath"
	"testing"
)

// WorldSops returns the corpus of real sops layouts (shared/fixtures/
// world-sops, laid beside the repository). Locally a missing corpus skips
// the test; in CI it fails it.
func WorldSops(t testing.TB) string {
	t.Helper()
	dir, ok := FindWorldSops(RepoRoot(t))
	if !ok {
		if InCI() {
			t.Fatalf("the sops corpus is missing: CI lays shared/ beside the clone (looked for %s)", dir)
		}
		t.Skipf("the sops corpus %s is missing (CI=true makes this a failure)", dir)
	}
	return dir
}

// FindWorldSops looks for the corpus beside the repository root.
func FindWorldSops(repoRoot string) (string, bool) {
	dir := filepath.Join(filepath.Dir(repoRoot), "shared", "fixtures", "world-sops")
	st, err := os.Stat(dir)
	return dir, err == nil && st.IsDir()
}
