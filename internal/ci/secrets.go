package ci

import (
	"context"

	"github.com/nixctl/nixctl/internal/inventory"
	"github.com/nixctl/nixctl/internal/secrets"
)

// SecretsStage is the secrets stage nixctl ships: secrets.Verify, which
// needs no key. When SOPS_AGE_KEY or SOPS_AGE_KEY_FILE is set (a CI secret),
// the keys are loaded the way sops loads them and every MAC is checked too.
func SecretsStage(env secrets.Env) SecretsVerifier {
	return func(ctx context.Context, fleet *inventory.Fleet) ([]SecretFile, error) {
		var keys *secrets.Keyring
		if env.AgeKey != "" || env.AgeKeyFile != "" {
			keys = secrets.LoadKeyring(ctx, env)
		}
		rep, err := secrets.Verify(ctx, fleet, secrets.VerifyOptions{Keys: keys})
		if err != nil {
			return nil, err
		}
		out := make([]SecretFile, 0, len(rep.Files))
		for _, f := range rep.Files {
			sf := SecretFile{Path: f.Path, Status: f.Status, Problems: f.Problems}
			if f.MACChecked {
				sf.Note = "MAC verified"
			}
			out = append(out, sf)
		}
		return out, nil
	}
}
