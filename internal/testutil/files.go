package testutil

import (
	"os"
	"testing"
)

// WriteFile writes a fixture file and stops the test when it cannot: a fixture
// that silently failed to appear would make the test assert the wrong thing.
func WriteFile(t testing.TB, path string, data []byte, perm os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, data, perm); err != nil {
		t.Fatal(err)
	}
}

// MkdirAll creates a fixture directory and stops the test when it cannot.
func MkdirAll(t testing.TB, path string, perm os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(path, perm); err != nil {
		t.Fatal(err)
	}
}

// Symlink creates a fixture link and stops the test when it cannot.
func Symlink(t testing.TB, oldname, newname string) {
	t.Helper()
	if err := os.Symlink(oldname, newname); err != nil {
		t.Fatal(err)
	}
}
