// Package fsx is where commands change files. Every file a command writes,
// creates or removes in the user's repository or home goes through a Writer,
// so that --dry-run can swap the disk for a printer (DryRun) the way
// execx.DryRun swaps the runner, and the command's code has no dry-run
// branch of its own.
package fsx

import (
	"io/fs"
	"os"
)

// Writer changes files.
type Writer interface {
	// WriteFile replaces path atomically; an existing file keeps its mode
	// (see the function WriteFile).
	WriteFile(path string, data []byte, perm fs.FileMode) error
	// CreateFile writes a new file atomically and fails if path exists.
	CreateFile(path string, data []byte, perm fs.FileMode) error
	// MkdirAll makes path and its missing parents.
	MkdirAll(path string, perm fs.FileMode) error
	// Remove removes a file or an empty directory.
	Remove(path string) error
}

// Disk writes for real.
type Disk struct{}

func (Disk) WriteFile(path string, data []byte, perm fs.FileMode) error {
	return WriteFile(path, data, perm)
}

func (Disk) CreateFile(path string, data []byte, perm fs.FileMode) error {
	return CreateFile(path, data, perm)
}

func (Disk) MkdirAll(path string, perm fs.FileMode) error { return os.MkdirAll(path, perm) }

func (Disk) Remove(path string) error { return os.Remove(path) }
