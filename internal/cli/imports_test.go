package cli

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/nixctl/nixctl/internal/testutil"
)

// exitCodeImporters are the only directories that may import
// internal/exitcode: exit codes are the command line's business, and every
// other package says what failed with a fault.Kind. A domain package that
// picked a number itself would make the README's table a promise nobody
// checks.
func exitCodeImporterAllowed(dir string) bool {
	return dir == "internal/cli" || dir == "cmd" || strings.HasPrefix(dir, "cmd/")
}

func TestOnlyTheCommandLineImportsExitCodes(t *testing.T) {
	t.Parallel()
	root := testutil.RepoRoot(t)
	data, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	var module string
	for _, line := range strings.Split(string(data), "\n") {
		if m, ok := strings.CutPrefix(strings.TrimSpace(line), "module "); ok {
			module = strings.Trim(strings.TrimSpace(m), `"`)
		}
	}
	if module == "" {
		t.Fatal("go.mod names no module")
	}
	exitcodePath := module + "/internal/exitcode"
	fset := token.NewFileSet()
	files := 0
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			// The go tool ignores these too; testdata holds fixtures, not code.
			if path != root && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || name == "testdata" || name == "vendor") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(name, ".go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		files++
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		for _, imp := range f.Imports {
			p, err := strconv.Unquote(imp.Path.Value)
			if err != nil {
				return err
			}
			if p == exitcodePath && !exitCodeImporterAllowed(filepath.ToSlash(filepath.Dir(rel))) {
				t.Errorf("%s imports %s: return a fault.Kind and let internal/cli choose the exit code", rel, p)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// A walk that found almost nothing checked nothing.
	if files < 50 {
		t.Fatalf("walked only %d Go files under %s", files, root)
	}
}
