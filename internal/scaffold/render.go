package scaffold

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// File is one file to write, at a slash-separated path relative to the
// repository.
type File struct {
	Path string
	Data []byte
	Mode fs.FileMode
}

// Render reads the template tree and returns its files with n's values in
// place of the template's, in paths and contents alike, sorted by path.
func Render(tmpl fs.FS, n Names) ([]File, error) {
	r := n.replacer()
	var files []File
	err := fs.WalkDir(tmpl, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(tmpl, p)
		if err != nil {
			return err
		}
		mode := fs.FileMode(0o644)
		if info, err := d.Info(); err == nil && info.Mode()&0o111 != 0 {
			mode = 0o755
		}
		files = append(files, File{Path: r.Replace(p), Data: []byte(r.Replace(string(data))), Mode: mode})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading the template: %w", err)
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	return files, nil
}

// Conflicts lists the files that already exist under dir (or whose parent is
// not a directory), so that the caller can refuse before writing anything.
func Conflicts(dir string, files []File) []string {
	var out []string
	for _, f := range files {
		if blocked := blockedParent(dir, f.Path); blocked != "" {
			out = append(out, blocked+" (not a directory)")
			continue
		}
		p := filepath.Join(dir, filepath.FromSlash(f.Path))
		if _, err := os.Lstat(p); err == nil || !errors.Is(err, fs.ErrNotExist) {
			out = append(out, f.Path)
		}
	}
	return dedupe(out)
}

// blockedParent returns the first parent of rel under dir that exists and is
// not a directory.
func blockedParent(dir, rel string) string {
	if path.Dir(rel) == "." {
		return ""
	}
	parts := strings.Split(path.Dir(rel), "/")
	for i := range parts {
		sub := strings.Join(parts[:i+1], "/")
		st, err := os.Stat(filepath.Join(dir, filepath.FromSlash(sub)))
		if err != nil {
			return ""
		}
		if !st.IsDir() {
			return sub
		}
	}
	return ""
}

func dedupe(s []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, x := range s {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}
