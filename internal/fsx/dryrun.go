package fsx

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/nixctl/nixctl/internal/execx"
)

// DryRun is the Writer of --dry-run: it changes nothing and prints one line
// per change, in the order the command makes them, on the same stream as
// execx.DryRun's commands:
//
//	mkdir PATH (mode 0755)
//	create PATH (mode 0600, 412 bytes)
//	write PATH (mode 0644, 1024 bytes)
//	remove PATH
//
// It answers as the disk would where it can tell: creating a file that
// exists fails, and a directory or file it pretended to make counts as
// made for the changes that follow.
type DryRun struct {
	Out io.Writer

	mu   sync.Mutex
	made map[string]bool
	gone map[string]bool
}

// NewDryRun prints the changes to out.
func NewDryRun(out io.Writer) *DryRun { return &DryRun{Out: out} }

// WriteFile prints the write with the mode the file will have: an existing
// file keeps its own.
func (d *DryRun) WriteFile(path string, data []byte, perm fs.FileMode) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	// Stat, not Lstat: a symbolic link is written through, and its
	// target keeps its mode.
	if st, err := os.Stat(path); err == nil && !d.gone[path] {
		if st.Mode().IsRegular() {
			perm = st.Mode().Perm()
		}
	} else if err := d.parentExists(path); err != nil {
		return err
	}
	d.note(path)
	return d.printf("write %s (mode %04o, %d bytes)", path, perm, len(data))
}

// CreateFile prints the creation, or fails as the disk would if path exists.
func (d *DryRun) CreateFile(path string, data []byte, perm fs.FileMode) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.exists(path) {
		return fmt.Errorf("%s already exists", path)
	}
	if err := d.parentExists(path); err != nil {
		return err
	}
	d.note(path)
	return d.printf("create %s (mode %04o, %d bytes)", path, perm, len(data))
}

// MkdirAll prints each directory it would make, the outermost first.
func (d *DryRun) MkdirAll(path string, perm fs.FileMode) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	path = filepath.Clean(path)
	var missing []string
	for p := path; !d.exists(p); p = filepath.Dir(p) {
		missing = append(missing, p)
		if filepath.Dir(p) == p {
			break
		}
	}
	for i := len(missing) - 1; i >= 0; i-- {
		d.note(missing[i])
		if err := d.printf("mkdir %s (mode %04o)", missing[i], perm); err != nil {
			return err
		}
	}
	return nil
}

// Remove prints the removal, or fails as the disk would if path is missing.
func (d *DryRun) Remove(path string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.exists(path) {
		return &fs.PathError{Op: "remove", Path: path, Err: fs.ErrNotExist}
	}
	if d.gone == nil {
		d.gone = map[string]bool{}
	}
	d.gone[path] = true
	delete(d.made, path)
	return d.printf("remove %s", path)
}

func (d *DryRun) exists(path string) bool {
	if d.made[path] {
		return true
	}
	if d.gone[path] {
		return false
	}
	_, err := os.Lstat(path)
	return err == nil || !errors.Is(err, fs.ErrNotExist)
}

// parentExists fails as the disk would when the file's directory is
// missing: the command forgot a MkdirAll that the real run would need.
func (d *DryRun) parentExists(path string) error {
	if dir := filepath.Dir(path); !d.exists(dir) {
		return &fs.PathError{Op: "open", Path: path, Err: fs.ErrNotExist}
	}
	return nil
}

func (d *DryRun) note(path string) {
	if d.made == nil {
		d.made = map[string]bool{}
	}
	d.made[path] = true
	delete(d.gone, path)
}

func (d *DryRun) printf(format, path string, args ...any) error {
	_, err := fmt.Fprintf(d.Out, format+"\n", append([]any{execx.QuoteWord(path)}, args...)...)
	return err
}
