package fsx

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// WriteFile replaces path with data atomically when path is a regular file or
// does not exist: a temporary file in the same directory is written, synced
// and renamed over it, then the directory is synced. A path that exists and is
// not a regular file (/dev/stdout, a FIFO, a symbolic link) is written in
// place and never renamed over. An existing file keeps its mode.
func WriteFile(path string, data []byte, perm os.FileMode) error {
	st, err := os.Lstat(path)
	switch {
	case err == nil && !st.Mode().IsRegular():
		return writeInPlace(path, data)
	case err == nil:
		perm = st.Mode().Perm()
	case !errors.Is(err, os.ErrNotExist):
		return err
	}
	return writeRenamed(path, data, perm, false)
}

// CreateFile writes data to path atomically, failing if path exists: the
// temporary file is hard-linked to its name, which never replaces a file.
func CreateFile(path string, data []byte, perm os.FileMode) error {
	return writeRenamed(path, data, perm, true)
}

func writeInPlace(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return err
	}
	return writeClose(f, data)
}

// WriteNew writes data to a new file at path, failing if path exists, in
// one write rather than atomically: for a private temporary file (the
// plaintext a secret's editor opens, mode 0600), never for the user's files.
func WriteNew(path string, data []byte, perm os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	return writeClose(f, data)
}

func writeClose(f *os.File, data []byte) error {
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func writeRenamed(path string, data []byte, perm os.FileMode, exclusive bool) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if pe := (*os.PathError)(nil); errors.As(err, &pe) {
		return pe.Err // see below: the temporary name means nothing to the user
	}
	if err != nil {
		return err
	}
	name := tmp.Name()
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(name)
			// The temporary name means nothing to the user, who reads
			// the reason after the file's own name.
			var pe *os.PathError
			if errors.As(err, &pe) && pe.Path == name {
				err = pe.Err
			}
		}
	}()
	if err = tmp.Chmod(perm); err != nil {
		return err
	}
	if _, err = tmp.Write(data); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	if exclusive {
		if err = os.Link(name, path); err != nil {
			if errors.Is(err, os.ErrExist) {
				return fmt.Errorf("%s already exists", path)
			}
			return err
		}
		os.Remove(name)
	} else if err = os.Rename(name, path); err != nil {
		return err
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return err
	}
	return nil
}
