package ci

import (
	"context"

	"github.com/nixctl/nixctl/internal/inventory"
	"github.com/nixctl/nixctl/internal/secrets"
)

// DefaultSecretsVerifier is the secrets stage nixctl ships: secrets.Verify
// without keys (CI rarely has one): every file must be a sops file whose
// values are all encrypted, for the recipients .sops.yaml lists.
func DefaultSecretsVerifier() SecretsVerifier {
	return func(ctx context.Context, fleet *inventory.Fleet) ([]SecretFile, error) {
		rep, err := secrets.Verify(ctx, fleet, secrets.VerifyOptions{})
		if err != nil {
			return nil, err
		}
		out := make([]SecretFile, 0, len(rep.Files))
		for _, f := range rep.Files {
			out = append(out, SecretFile{Path: f.Path, Status: f.Status, Problems: f.Problems})
		}
		return out, nil
	}
}
