package secrets

import (
	"context"
	"fmt"
	"strings"

	"github.com/nixctl/nixctl/internal/exitcode"
	"github.com/nixctl/nixctl/internal/inventory"
	"github.com/nixctl/nixctl/internal/remote"
)

// KeyFetcher reads the host keys of inventory hosts along their routes
// (*remote.SSH).
type KeyFetcher interface {
	remote.Router
	FetchHostKeys(ctx context.Context, r remote.Route) ([]remote.HostKey, error)
}

// HostRecipient fetches a host's ed25519 SSH host key over SSH, along the
// route nixctl takes to the host (dir is the inventory's directory), and
// converts it to the age recipient sops-nix derives from it. A key
// known_hosts does not hold is shown by fingerprint to confirm, which may
// refuse; a key that conflicts with known_hosts is an error.
func HostRecipient(ctx context.Context, d KeyFetcher, dir string, h *inventory.Host, confirm func(remote.HostKey) error) (string, *remote.HostKey, error) {
	r, err := d.HostRoute(dir, h, "")
	if err != nil {
		return "", nil, exitcode.New(exitcode.Inventory, err, exitcode.HintOf(err))
	}
	keys, err := d.FetchHostKeys(ctx, r)
	if err != nil {
		return "", nil, exitcode.New(exitcode.Failure, fmt.Errorf("fetching the host key of %s: %w", h.Name, err), exitcode.HintOf(err))
	}
	var types []string
	for i := range keys {
		k := &keys[i]
		if k.Type != "ssh-ed25519" || len(k.Ed25519) != 32 {
			types = append(types, k.Type)
			continue
		}
		if !k.Known {
			if err := confirm(*k); err != nil {
				return "", nil, err
			}
		}
		rec, err := SSHToAge(k.Ed25519)
		return rec, k, err
	}
	return "", nil, exitcode.Newf(exitcode.Failure, "enable it (services.openssh.hostKeys with type ed25519), or pass --key-file",
		"%s offers no ed25519 host key (only %s): sops-nix derives its age key from /etc/ssh/ssh_host_ed25519_key", h.Name, strings.Join(types, ", "))
}

// AddHost puts recipient in .sops.yaml under anchor name and writes it. It
// reports whether .sops.yaml changed.
func (s *Session) AddHost(name, recipient, pathRegex string, w Writer) (bool, error) {
	if err := s.requireConfig(); err != nil {
		return false, err
	}
	changed, err := s.Config.AddRecipient(name, recipient, pathRegex)
	if err != nil || !changed {
		return false, err
	}
	if err := w.WriteFile(s.Config.Path, s.Config.Data, 0o644); err != nil {
		return false, err
	}
	return true, nil
}

// RemoveHost drops anchor name from .sops.yaml and writes it; it returns the
// recipient removed.
func (s *Session) RemoveHost(name string, w Writer) (string, error) {
	if err := s.requireConfig(); err != nil {
		return "", err
	}
	rec, err := s.Config.RemoveRecipient(name)
	if err != nil {
		return "", err
	}
	if empty := s.Config.emptyRules(); len(empty) > 0 {
		return "", exitcode.Newf(exitcode.Secrets, "add another recipient to the rule first",
			"removing %s would leave no recipient in the creation rule %s", name, strings.Join(empty, ", "))
	}
	if s.retired == nil {
		s.retired = map[string]string{}
	}
	s.retired[rec] = name
	return rec, w.WriteFile(s.Config.Path, s.Config.Data, 0o644)
}
