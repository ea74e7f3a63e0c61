package testutil

import (
	"os"
	"path/filepath"
	"testing"
)

// WorldSops is the published corpus of real sops files
// (<repo>/../shared/fixtures/world-sops, laid beside the clone in CI). It is
// read-only: copy what a test changes. Locally a missing corpus skips the
// test; in CI it fails it.
func WorldSops(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(RepoRoot(t), "..", "shared", "fixtures", "world-sops")
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		if InCI() {
			t.Fatalf("the sops corpus is missing at %s: CI must lay shared/ beside the clone", dir)
		}
		t.Skipf("the sops corpus is missing at %s (CI=true makes this a failure)", dir)
	}
	return dir
}
