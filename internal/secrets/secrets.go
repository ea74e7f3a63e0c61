// Package secrets manages a fleet's sops files in-process with sops's Go
// packages and filippo.io/age: it encrypts, decrypts, edits, verifies and
// rekeys the files under the secrets directory for the age recipients listed
// in .sops.yaml, and turns SSH host keys into the age recipients sops-nix
// uses. It is the only package that imports sops and age, and it never runs
// the sops program.
//
// Plaintext stays in memory: it is written only to the 0600 file that
// `secrets edit` hands to the editor, and never reaches an error message, a
// log line or JSON output.
package secrets

import (
	"io"
	"path/filepath"
	"strings"
	"sync"

	"github.com/getsops/sops/v3/logging"

	"github.com/nixctl/nixctl/internal/inventory"
)

// Repo is where a fleet keeps its secrets.
type Repo struct {
	// Root is the fleet directory; paths are shown relative to it.
	Root string
	// Dir is the absolute secrets directory.
	Dir string
	// Config is the absolute path of .sops.yaml.
	Config string
}

// RepoOf returns the secrets layout of fleet.
func RepoOf(f *inventory.Fleet) Repo {
	return Repo{Root: f.Dir, Dir: f.SecretsDir(), Config: f.SopsConfigPath()}
}

// Rel shows an absolute path relative to the fleet directory.
func (r Repo) Rel(path string) string {
	if rel, err := filepath.Rel(r.Root, path); err == nil && !strings.HasPrefix(rel, "..") {
		return filepath.ToSlash(rel)
	}
	return path
}

var quietOnce sync.Once

// quietSops silences sops's loggers: some log lines (an unencrypted comment,
// a recipient) could carry data, and nixctl reports errors itself.
func quietSops() {
	quietOnce.Do(func() {
		for _, l := range logging.Loggers {
			l.SetOutput(io.Discard)
		}
	})
}
