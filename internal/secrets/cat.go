package secrets

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/nixctl/nixctl/internal/fault"
)

// Cat decrypts the secret at userPath (see Repo.Resolve) and returns its
// plaintext, or the value at extract.
func (s *Session) Cat(userPath, extract string) ([]byte, error) {
	path, err := s.Repo.Resolve(userPath)
	if err != nil {
		return nil, err
	}
	o, err := s.openPath(path)
	if err != nil {
		return nil, err
	}
	if extract == "" {
		return o.Plaintext()
	}
	keys, err := ParseExtract(extract)
	if err != nil {
		return nil, err
	}
	out, err := o.Extract(keys)
	if err != nil {
		return nil, fault.Newf(fault.Usage, "'nixctl secrets cat "+userPath+"' shows the whole document", "%s: %v", s.Repo.Rel(path), err)
	}
	return out, nil
}

// openPath reads and decrypts a secret file, with errors a user can act on.
func (s *Session) openPath(path string) (*Opened, error) {
	data, _, err := readSecret(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fault.Newf(fault.Usage, "'nixctl secrets list' shows the files", "%s does not exist", s.Repo.Rel(path))
	}
	if err != nil {
		return nil, fault.New(fault.Failure, fmt.Errorf("%s: %w", s.Repo.Rel(path), err), "")
	}
	o, err := s.Open(path, data)
	return o, s.fileError(path, err)
}

// fileError classifies an error about one file into a kind and a hint.
func (s *Session) fileError(path string, err error) error {
	if err == nil {
		return nil
	}
	rel := s.Repo.Rel(path)
	var nk *NoKeyError
	switch {
	case errors.As(err, &nk):
		return fault.New(fault.Secrets, fmt.Errorf("%s: %w", rel, err), nk.Hint())
	case errors.Is(err, ErrMAC), errors.Is(err, ErrValue), errors.Is(err, ErrDamaged):
		return fault.New(fault.Secrets, fmt.Errorf("%s: %w", rel, err), "restore it from git (git checkout -- "+rel+") and check who changed it")
	case errors.Is(err, ErrNotSopsFile):
		return fault.New(fault.Secrets, fmt.Errorf("%s: %w (it may be plaintext)", rel, err), "encrypt it with 'nixctl secrets add' and delete this copy")
	}
	if fault.KindOf(err) != fault.Failure {
		return err
	}
	return fault.New(fault.Failure, fmt.Errorf("%s: %w", rel, err), fault.HintOf(err))
}

// ParseExtract reads a key path: sops's ["a"][0] form or a.0 dots.
func ParseExtract(s string) ([]any, error) {
	hint := `use a.b.0 or '["a"]["b"][0]'`
	var out []any
	if strings.HasPrefix(s, "[") {
		rest := s
		for rest != "" {
			end := strings.Index(rest, "]")
			if !strings.HasPrefix(rest, "[") || end < 0 {
				return nil, fault.Usagef(hint, "cannot read --extract %q", s)
			}
			part := rest[1:end]
			rest = rest[end+1:]
			if uq, err := strconv.Unquote(part); err == nil {
				out = append(out, uq)
			} else if n, err := strconv.Atoi(part); err == nil {
				out = append(out, n)
			} else {
				return nil, fault.Usagef(hint, "cannot read --extract %q", s)
			}
		}
		return out, nil
	}
	for _, p := range strings.Split(s, ".") {
		if p == "" {
			return nil, fault.Usagef(hint, "empty key in --extract %q", s)
		}
		if n, err := strconv.Atoi(p); err == nil {
			out = append(out, n)
		} else {
			out = append(out, p)
		}
	}
	return out, nil
}
