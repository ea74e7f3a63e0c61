package secrets

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/nixctl/nixctl/internal/fsx"
)

// StoreResult says what Store wrote.
type StoreResult struct {
	Path       string   `json:"path"`
	Format     Format   `json:"format"`
	Recipients []string `json:"recipients"`
	// Replaced is true when the file existed: its content was replaced and
	// its data key and recipients kept, as `secrets edit` does.
	Replaced bool `json:"replaced"`
}

// Store puts plain into the secret at path (absolute, inside the secrets
// directory). A new file is encrypted for its creation rule's recipients; an
// existing one keeps its data key and recipients, so refreshing a secret
// (a rotated certificate) grants and revokes nothing and the diff shows only
// the values that changed. Replacing needs a key that opens the file.
func (s *Session) Store(path string, f Format, plain []byte, w fsx.Writer) (*StoreResult, error) {
	res := &StoreResult{Path: s.Repo.Rel(path), Format: f}
	st, err := os.Lstat(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		out, rule, err := s.Encrypt(path, f, plain)
		if err != nil {
			return nil, s.fileError(path, err)
		}
		if err := w.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return nil, err
		}
		if err := w.CreateFile(path, out, 0o644); err != nil {
			return nil, fmt.Errorf("writing %s: %w", res.Path, err)
		}
		res.Recipients = s.keyNames(rule.Keys)
		return res, nil
	case err != nil:
		return nil, err
	case !st.Mode().IsRegular():
		return nil, fmt.Errorf("%s exists and is not a regular file", res.Path)
	}
	o, err := s.openPath(path)
	if err != nil {
		return nil, err
	}
	if o.Format != f {
		return nil, fmt.Errorf("%s is a %s file, not %s", res.Path, o.Format, f)
	}
	branches, err := s.ParsePlain(f, plain)
	if err != nil {
		return nil, err
	}
	o.Tree.Branches = branches
	out, err := s.Seal(o)
	if err != nil {
		return nil, err
	}
	if err := w.WriteFile(path, out, 0o644); err != nil {
		return nil, fmt.Errorf("writing %s: %w", res.Path, err)
	}
	res.Replaced = true
	res.Recipients = s.keyNames(flatten(o.Keys()))
	return res, nil
}
