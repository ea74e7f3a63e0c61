package secrets

import (
	"context"

	"github.com/nixctl/nixctl/internal/fault"
	"github.com/nixctl/nixctl/internal/inventory"
	"github.com/nixctl/nixctl/internal/remote"
)

// RecipientFromHostKeys finds a host's age recipient from its ed25519 host
// key: the one known_hosts holds for the route nixctl takes to it (dir is
// the inventory's directory), else the one the host offers over SSH (said
// in from, since nothing vouches for it then).
func RecipientFromHostKeys(d KeyFetcher, dir string) HostRecipientFunc {
	return func(ctx context.Context, h inventory.Host) (string, string, error) {
		r, err := d.HostRoute(dir, &h, "")
		if err != nil {
			return "", "", fault.New(fault.Inventory, err, fault.HintOf(err))
		}
		known, err := remote.KnownHostKeys(r)
		if err != nil {
			return "", "", err
		}
		for _, k := range known {
			if len(k.Ed25519) == 32 {
				rec, err := SSHToAge(k.Ed25519)
				return rec, "its ed25519 key in known_hosts", err
			}
		}
		rec, k, err := HostRecipient(ctx, d, dir, &h, func(remote.HostKey) error { return nil })
		if err != nil {
			return "", "", fault.Newf(fault.Secrets, "add its key to known_hosts (ssh "+r.Name+" once) and run again",
				"its host key is not in known_hosts and could not be fetched: %v", err)
		}
		from := "its ed25519 key over SSH (" + k.Fingerprint + ", not in known_hosts)"
		return rec, from, nil
	}
}
