package secrets

import (
	"errors"
	"fmt"

	"context"
	"github.com/getsops/sops/v3/age"
	"github.com/getsops/sops/v3/keyservice"
)

// ageKeyService is the key service nixctl hands to sops: it encrypts data
// keys for age recipients and decrypts them with the keyring's identities.
// sops's own local service would read the process environment and home
// directory directly; this one uses the Env nixctl was given, so tests and
// dry runs see exactly what the command sees.
type ageKeyService struct{ keys *Keyring }

var errNotAge = errors.New("nixctl handles age recipients only (pgp, KMS and Vault keys are sops's job)")

func (s ageKeyService) Encrypt(_ context.Context, req *keyservice.EncryptRequest) (*keyservice.EncryptResponse, error) {
	ak := req.GetKey().GetAgeKey()
	if ak == nil {
		return nil, errNotAge
	}
	if isPluginRecipient(ak.GetRecipient()) {
		return nil, errors.New("age plugin recipients are not supported (they run a plugin program)")
	}
	mk, err := age.MasterKeyFromRecipient(ak.GetRecipient())
	if err != nil {
		return nil, err
	}
	if err := mk.Encrypt(req.GetPlaintext()); err != nil {
		return nil, err
	}
	return &keyservice.EncryptResponse{Ciphertext: mk.EncryptedDataKey()}, nil
}

func (s ageKeyService) Decrypt(_ context.Context, req *keyservice.DecryptRequest) (*keyservice.DecryptResponse, error) {
	ak := req.GetKey().GetAgeKey()
	if ak == nil {
		return nil, errNotAge
	}
	if s.keys == nil {
		return nil, errors.New("no age key loaded")
	}
	ids := s.keys.identitiesFor(ak.GetRecipient())
	if len(ids) == 0 {
		// Never let sops fall back to its own lookup in the real environment.
		return nil, s.keys.Err()
	}
	mk := &age.MasterKey{Recipient: ak.GetRecipient(), EncryptedKey: string(req.GetCiphertext())}
	age.ParsedIdentities(ids).ApplyToMasterKey(mk)
	out, err := mk.Decrypt()
	if err != nil {
		return nil, fmt.Errorf("no identity matches %s", ak.GetRecipient())
	}
	return &keyservice.DecryptResponse{Plaintext: out}, nil
}

func (s ageKeyService) clients() []keyservice.KeyServiceClient {
	return []keyservice.KeyServiceClient{keyservice.NewCustomLocalClient(s)}
}
