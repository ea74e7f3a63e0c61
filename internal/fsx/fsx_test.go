package fsx

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nixctl/nixctl/internal/testutil"
)

func TestWriteFileNeverRenamesOverSpecialFiles(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "target")
	testutil.WriteFile(t, target, []byte("old"), 0o640)
	link := filepath.Join(dir, "link")
	testutil.Symlink(t, target, link)
	if err := WriteFile(link, []byte("new"), 0o644); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Lstat(link); st.Mode()&os.ModeSymlink == 0 {
		t.Error("the symlink was replaced by a regular file")
	}
	if b, _ := os.ReadFile(target); string(b) != "new" {
		t.Errorf("target = %q", b)
	}
	if err := WriteFile("/dev/null", []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat("/dev/null"); st.Mode()&os.ModeCharDevice == 0 {
		t.Fatal("/dev/null is no longer a device")
	}
	if err := WriteFile(target, []byte("newer"), 0o600); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(target); st.Mode().Perm() != 0o640 {
		t.Errorf("mode %o, want the file's own 640", st.Mode().Perm())
	}
	if err := CreateFile(target, []byte("x"), 0o600); err == nil {
		t.Error("CreateFile replaced an existing file")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 2 {
		t.Errorf("temporary files left: %v", entries)
	}
}

// The dry-run writer prints each change in order, with the mode the file
// would have, and leaves the disk exactly as it was.
func TestDryRunPrintsChangesInOrderAndChangesNothing(t *testing.T) {
	dir := t.TempDir()
	old := filepath.Join(dir, "old.yaml")
	testutil.WriteFile(t, old, []byte("a: 1\n"), 0o640)
	before := testutil.Tree(t, dir)

	var out bytes.Buffer
	d := NewDryRun(&out)
	nested := filepath.Join(dir, "a", "b")
	steps := []func() error{
		func() error { return d.MkdirAll(nested, 0o700) },
		// Made already (by the step above): printed once.
		func() error { return d.MkdirAll(filepath.Join(dir, "a"), 0o755) },
		func() error { return d.CreateFile(filepath.Join(nested, "key.txt"), []byte("secret\n"), 0o600) },
		func() error { return d.WriteFile(old, []byte("a: 2\n"), 0o644) },
		func() error { return d.WriteFile(filepath.Join(dir, "new file"), []byte("x"), 0o644) },
		func() error { return d.Remove(old) },
	}
	for i, s := range steps {
		if err := s(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	want := "mkdir " + filepath.Join(dir, "a") + " (mode 0700)\n" +
		"mkdir " + nested + " (mode 0700)\n" +
		"create " + filepath.Join(nested, "key.txt") + " (mode 0600, 7 bytes)\n" +
		"write " + old + " (mode 0640, 5 bytes)\n" +
		"write '" + filepath.Join(dir, "new file") + "' (mode 0644, 1 bytes)\n" +
		"remove " + old + "\n"
	if out.String() != want {
		t.Errorf("printed:\n%s\nwant:\n%s", out.String(), want)
	}
	testutil.SameTree(t, "the dry run", before, testutil.Tree(t, dir))
}

// A dry run fails where the real run would: creating over a file, writing
// into a directory nobody made, removing what is not there.
func TestDryRunFailsAsTheDiskWould(t *testing.T) {
	dir := t.TempDir()
	existing := filepath.Join(dir, "f")
	testutil.WriteFile(t, existing, []byte("x"), 0o644)
	var out bytes.Buffer
	d := NewDryRun(&out)
	if err := d.CreateFile(existing, []byte("y"), 0o644); err == nil {
		t.Error("created over an existing file")
	}
	if err := d.WriteFile(filepath.Join(dir, "no", "f"), []byte("y"), 0o644); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("write into a missing directory: %v", err)
	}
	if err := d.Remove(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("remove of a missing file: %v", err)
	}
	if err := d.Remove(existing); err != nil {
		t.Fatal(err)
	}
	// Removed in the plan: it may be created again.
	if err := d.CreateFile(existing, []byte("y"), 0o644); err != nil {
		t.Errorf("create after remove: %v", err)
	}
	if strings.Count(out.String(), "\n") != 2 {
		t.Errorf("printed:\n%s", out.String())
	}
	// The real writer agrees on the first refusal.
	if err := (Disk{}).CreateFile(existing, []byte("y"), 0o644); err == nil {
		t.Error("Disk created over an existing file")
	}
	if b, _ := os.ReadFile(existing); string(b) != "x" {
		t.Errorf("the file changed: %q", b)
	}
}
