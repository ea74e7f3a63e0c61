package secrets

import (
	"fmt"
	"io"
	"os"
)

// Writer is where commands put files: the disk, or a dry-run report.
type Writer interface {
	// WriteFile replaces path atomically (see WriteFile).
	WriteFile(path string, data []byte, perm os.FileMode) error
	// CreateFile writes a new file and fails if path exists.
	CreateFile(path string, data []byte, perm os.FileMode) error
	MkdirAll(path string, perm os.FileMode) error
}

// Disk writes for real.
type Disk struct{}

func (Disk) WriteFile(path string, data []byte, perm os.FileMode) error {
	return WriteFile(path, data, perm)
}
func (Disk) CreateFile(path string, data []byte, perm os.FileMode) error {
	return CreateFile(path, data, perm)
}
func (Disk) MkdirAll(path string, perm os.FileMode) error { return os.MkdirAll(path, perm) }

// DryRun prints what would be written and writes nothing.
type DryRun struct{ Out io.Writer }

func (d DryRun) WriteFile(path string, data []byte, _ os.FileMode) error {
	fmt.Fprintf(d.Out, "would write %s (%d bytes)\n", path, len(data))
	return nil
}
func (d DryRun) CreateFile(path string, data []byte, perm os.FileMode) error {
	fmt.Fprintf(d.Out, "would create %s (%d bytes, mode %04o)\n", path, len(data), perm)
	return nil
}
func (d DryRun) MkdirAll(path string, _ os.FileMode) error {
	if _, err := os.Stat(path); err != nil {
		fmt.Fprintf(d.Out, "would create directory %s\n", path)
	}
	return nil
}
