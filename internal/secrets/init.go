package secrets

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"filippo.io/age"

	"github.com/nixctl/nixctl/internal/fault"
)

// InitResult says what `secrets init` found and did.
type InitResult struct {
	KeyFile       string `json:"keyFile"`
	Recipient     string `json:"recipient"`
	KeyCreated    bool   `json:"keyCreated"`
	Config        string `json:"config"`
	ConfigCreated bool   `json:"configCreated"`
	// InConfig is false when an existing .sops.yaml does not list the key.
	InConfig bool `json:"inConfig"`
}

// Init makes sure the user has an age key where sops looks for it, and that
// .sops.yaml exists with that key under an anchor called name. It never
// overwrites a key file or a .sops.yaml, so running it twice changes nothing.
func Init(repo Repo, env Env, name string, now time.Time, w Writer) (*InitResult, error) {
	if err := CheckAnchorName(name); err != nil {
		return nil, err
	}
	res := &InitResult{Config: repo.Rel(repo.Config)}
	var err error
	if res.KeyFile, res.Recipient, res.KeyCreated, err = EnsureUserKey(env, now, w); err != nil {
		return nil, err
	}
	if _, err := os.Stat(repo.Config); errors.Is(err, os.ErrNotExist) {
		rel, err := filepath.Rel(filepath.Dir(repo.Config), repo.Dir)
		if err != nil || strings.HasPrefix(rel, "..") {
			return nil, fault.Newf(fault.Inventory, "put secrets.sopsConfig in or above secrets.dir in nixctl.yaml", "the secrets directory %s is not under %s's directory", repo.Rel(repo.Dir), repo.Rel(repo.Config))
		}
		if err := w.CreateFile(repo.Config, InitialSopsConfig(name, res.Recipient, rel), 0o644); err != nil {
			return nil, fmt.Errorf("writing %s: %w", repo.Rel(repo.Config), err)
		}
		res.ConfigCreated, res.InConfig = true, true
	} else if err != nil {
		return nil, err
	} else {
		c, err := LoadSopsConfig(repo.Config)
		if err != nil {
			return nil, err
		}
		res.InConfig = len(c.RulesWith(Key{Type: "age", Value: res.Recipient})) > 0
	}
	if err := w.MkdirAll(repo.Dir, 0o755); err != nil {
		return nil, err
	}
	return res, nil
}

// EnsureUserKey finds the user's age key where sops looks for it, or makes
// one there (0600, in a 0700 directory), and returns its file and
// recipient. An existing key file is never overwritten.
func EnsureUserKey(env Env, now time.Time, w Writer) (keyFile, recipient string, created bool, err error) {
	keyFile = env.KeyFile()
	recipient, err = existingRecipient(keyFile)
	switch {
	case err == nil:
		return keyFile, recipient, false, nil
	case !errors.Is(err, os.ErrNotExist):
		return "", "", false, err
	}
	id, err := age.GenerateX25519Identity()
	if err != nil {
		return "", "", false, err
	}
	if err := w.MkdirAll(filepath.Dir(keyFile), 0o700); err != nil {
		return "", "", false, err
	}
	if err := w.CreateFile(keyFile, KeyFileContent(id, now), 0o600); err != nil {
		return "", "", false, fmt.Errorf("writing the age key: %w", err)
	}
	return keyFile, id.Recipient().String(), true, nil
}

// KeyFileContent is a key file as age-keygen writes it.
func KeyFileContent(id *age.X25519Identity, now time.Time) []byte {
	return []byte(fmt.Sprintf("# created: %s\n# public key: %s\n%s\n", now.Format(time.RFC3339), id.Recipient(), id))
}

// existingRecipient reads the first native age key of a key file.
func existingRecipient(path string) (string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	if !st.Mode().IsRegular() {
		return "", fault.Newf(fault.Failure, "point SOPS_AGE_KEY_FILE at a regular file", "%s is not a regular file", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	k := &Keyring{}
	k.addAgeKeys(path, f, false)
	if x := k.X25519(); len(x) > 0 {
		return x[0].Recipient().String(), nil
	}
	return "", fault.Newf(fault.Failure, "nixctl never overwrites a key file: fix or move it, then run init again", "%s exists but holds no age secret key", path)
}
