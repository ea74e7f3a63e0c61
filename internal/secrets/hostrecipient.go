package secrets

import (
	"context"

	"github.com/nixctl/nixctl/internal/exitcode"
	"github.com/nixctl/nixctl/internal/inventory"
	"github.com/nixctl/nixctl/internal/remote"
)

// RecipientFromHostKeys finds a host's age recipient from its ed25519 host
// key: the one known_hosts holds, else the one the host offers over SSH
// (said in from, since nothing vouches for it then).
func RecipientFromHostKeys(d *remote.Dialer) HostRecipientFunc {
	return func(ctx context.Context, h inventory.Host) (string, string, error) {
		known, err := d.KnownHostKeys(h.Address, h.Port)
		if err != nil {
			return "", "", err
		}
		for _, k := range known {
			if len(k.Ed25519) == 32 {
				r, err := SSHToAge(k.Ed25519)
				return r, "its ed25519 key in known_hosts", err
			}
		}
		rec, k, err := HostRecipient(ctx, d, &h, func(remote.HostKey) error { return nil })
		if err != nil {
			return "", "", exitcode.Newf(exitcode.Secrets, "add its key to known_hosts (ssh "+h.SSHTarget()+" once) and run again",
				"its host key is not in known_hosts and could not be fetched: %v", err)
		}
		from := "its ed25519 key over SSH (" + k.Fingerprint + ", not in known_hosts)"
		return rec, from, nil
	}
}
