package nixfiles

import (
	"io/fs"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nixctl/nixctl/internal/testutil"
)

// Every .nix file of the repository parses: nothing else can check the
// template offline, since evaluating it needs nixpkgs.
func TestEveryNixFileParses(t *testing.T) {
	testutil.Require(t, "nix-instantiate")
	root := testutil.RepoRoot(t)
	var files []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "vendor" || strings.HasPrefix(d.Name(), "result")) {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(p, ".nix") {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 20 {
		t.Fatalf("found only %d .nix files under %s; the walk is broken", len(files), root)
	}
	for _, f := range files {
		rel, _ := filepath.Rel(root, f)
		if out, err := exec.Command("nix-instantiate", "--parse", f).CombinedOutput(); err != nil {
			t.Errorf("%s does not parse: %s", rel, strings.TrimSpace(string(out)))
		}
	}
}
