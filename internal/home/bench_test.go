package home

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkFindClobbers is the check before every local switch, on a
// generation placing 2000 files into a home that already has half of them.
func BenchmarkFindClobbers(b *testing.B) {
	gen := b.TempDir()
	files := filepath.Join(b.TempDir(), "home-manager-files")
	home := b.TempDir()
	for i := range 2000 {
		rel := filepath.Join(".config", fmt.Sprintf("app%d", i%50), fmt.Sprintf("file%d", i))
		for _, root := range []string{files, home} {
			if root == home && i%2 == 1 {
				continue
			}
			p := filepath.Join(root, rel)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				b.Fatal(err)
			}
			if err := os.WriteFile(p, []byte(fmt.Sprintf("content %d\n", i)), 0o644); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := os.Symlink(files, filepath.Join(gen, "home-files")); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := FindClobbers(gen, home, ""); err != nil {
			b.Fatal(err)
		}
	}
}
