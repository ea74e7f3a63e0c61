package secrets

import (
	"bytes"
	"errors"
	"fmt"
	"time"

	"github.com/getsops/sops/v3"
	"github.com/getsops/sops/v3/aes"
	sopsage "github.com/getsops/sops/v3/age"
	sopsconfig "github.com/getsops/sops/v3/config"

	"github.com/nixctl/nixctl/internal/fault"
)

// Session does the cryptography of one command: it knows the repository,
// its .sops.yaml and the keys found on this machine.
type Session struct {
	Repo Repo
	// Config is nil when .sops.yaml does not exist.
	Config *SopsConfig
	// Keys is nil when the command must not decrypt (verify without key).
	Keys *Keyring
	// InputType, when set, is the format of every file opened (sops's
	// --input-type); otherwise the extension decides, as with sops.
	InputType Format
	Now       func() time.Time
	stores    *sopsconfig.StoresConfig
	// retired names recipients remove-host took out of .sops.yaml, so the
	// rekey lines that follow still say which host left.
	retired map[string]string
	// cipher is shared between decryption and re-encryption: it remembers
	// the nonce of every value it decrypted, so unchanged values keep their
	// ciphertext and a one-line edit is a one-line diff (as with sops edit).
	cipher sops.Cipher
}

// NewSession loads .sops.yaml (if present).
func NewSession(repo Repo, keys *Keyring) (*Session, error) {
	quietSops()
	s := &Session{Repo: repo, Keys: keys, Now: time.Now, cipher: aes.NewCipher()}
	c, err := LoadSopsConfig(repo.Config)
	switch {
	case err == nil:
		s.Config = c
	case !errors.Is(err, ErrNoSopsConfig):
		return nil, err
	}
	s.stores = storesConfig(repo.Config)
	return s, nil
}

func (s *Session) requireConfig() error {
	if s.Config == nil {
		return missingSopsConfig(s.Repo.Config)
	}
	return nil
}

func (s *Session) keyService() ageKeyService { return ageKeyService{keys: s.Keys} }

// Errors from opening a file. None carries plaintext.
var (
	ErrMAC         = errors.New("MAC mismatch: the file was changed without its data key")
	ErrValue       = errors.New("a value fails authentication: its ciphertext was altered")
	ErrNotSopsFile = errors.New("not a sops file")
	ErrDamaged     = errors.New("a damaged sops file: it holds encrypted values but does not parse (truncated?)")
)

// NoKeyError means no key on this machine opens the file's data key.
type NoKeyError struct{ Err error }

func (e *NoKeyError) Error() string { return "cannot decrypt the data key: " + e.Err.Error() }
func (e *NoKeyError) Unwrap() error { return e.Err }

// Hint says where sops and nixctl look for keys.
func (e *NoKeyError) Hint() string {
	return "put your age key in SOPS_AGE_KEY_FILE or ~/.config/sops/age/keys.txt (nixctl secrets init makes one), or ask someone who can read the file to add your recipient"
}

// Encrypted is a sops file as stored, not decrypted.
type Encrypted struct {
	Path   string
	Format Format
	Tree   *sops.Tree
	store  sops.Store
}

// Load parses an encrypted file without decrypting it.
func (s *Session) Load(path string, data []byte) (*Encrypted, error) {
	f := s.formatFor(path)
	store := storeFor(f, s.stores)
	tree, err := store.LoadEncryptedFile(data)
	if err != nil {
		if bytes.Contains(data, []byte("ENC[AES256_GCM,")) {
			return nil, ErrDamaged
		}
		return nil, ErrNotSopsFile
	}
	tree.FilePath = path
	return &Encrypted{Path: path, Format: f, Tree: &tree, store: store}, nil
}

// DataKey recovers the file's data key with the keyring.
func (s *Session) DataKey(e *Encrypted) ([]byte, error) {
	if s.Keys == nil {
		return nil, &NoKeyError{Err: errors.New("no keys loaded")}
	}
	key, err := e.Tree.Metadata.GetDataKeyWithKeyServices(s.keyService().clients(), nil)
	if err != nil {
		return nil, &NoKeyError{Err: s.Keys.Err()}
	}
	return key, nil
}

// Opened is a decrypted file; its tree holds plaintext.
type Opened struct {
	*Encrypted
	DataKey []byte
}

// Open decrypts a file and checks its MAC, the way sops -d does.
func (s *Session) Open(path string, data []byte) (*Opened, error) {
	e, err := s.Load(path, data)
	if err != nil {
		return nil, err
	}
	return s.Decrypt(e)
}

// Decrypt decrypts a loaded file in place and checks its MAC.
func (s *Session) Decrypt(e *Encrypted) (*Opened, error) {
	key, err := s.DataKey(e)
	if err != nil {
		return nil, err
	}
	computed, err := e.Tree.Decrypt(key, s.cipher)
	if err != nil {
		return nil, ErrValue
	}
	stored, err := s.cipher.Decrypt(e.Tree.Metadata.MessageAuthenticationCode, key, e.Tree.Metadata.LastModified.Format(time.RFC3339))
	if err != nil || stored != computed {
		return nil, ErrMAC
	}
	return &Opened{Encrypted: e, DataKey: key}, nil
}

// Plaintext emits the decrypted document in its format.
func (o *Opened) Plaintext() ([]byte, error) {
	out, err := o.store.EmitPlainFile(o.Tree.Branches)
	if err != nil {
		return nil, fmt.Errorf("cannot write the decrypted %s document", o.Format)
	}
	return out, nil
}

// Extract emits one value, addressed as sops --extract does
// (["a"]["b"][0]) or with dots (a.b.0), and printed as sops prints it: a
// string as is, a mapping as a document of the file's format.
func (o *Opened) Extract(path []any) ([]byte, error) {
	v, err := o.Tree.Branches[0].Truncate(path)
	if err != nil {
		return nil, fmt.Errorf("no value at that key")
	}
	var out []byte
	switch v := v.(type) {
	case sops.TreeBranch:
		out, err = o.store.EmitPlainFile(sops.TreeBranches{v})
	case string:
		return []byte(v), nil
	default:
		out, err = o.store.EmitValue(v)
	}
	if err != nil {
		return nil, fmt.Errorf("cannot write the value at that key")
	}
	return out, nil
}

// Seal re-encrypts the opened tree with its data key and emits the file.
func (s *Session) Seal(o *Opened) ([]byte, error) {
	mac, err := o.Tree.Encrypt(o.DataKey, s.cipher)
	if err != nil {
		return nil, errors.New("cannot encrypt the document")
	}
	o.Tree.Metadata.LastModified = s.Now().UTC().Truncate(time.Second)
	o.Tree.Metadata.MessageAuthenticationCode, err = s.cipher.Encrypt(mac, o.DataKey, o.Tree.Metadata.LastModified.Format(time.RFC3339))
	if err != nil {
		return nil, errors.New("cannot encrypt the MAC")
	}
	return o.store.EmitEncryptedFile(*o.Tree)
}

// ParsePlain parses plaintext in format f into sops branches; errors never
// quote the input.
func (s *Session) ParsePlain(f Format, plain []byte) (sops.TreeBranches, error) {
	store := storeFor(f, s.stores)
	branches, err := store.LoadPlainFile(plain)
	if err != nil {
		return nil, fault.Newf(fault.Usage, "fix the document, or pass --format binary to store it as it is", "%s", parseProblem(f, err))
	}
	if len(branches) == 0 || (f != Binary && len(branches[0]) == 0 && len(bytes.TrimSpace(plain)) == 0) {
		return nil, fault.Newf(fault.Usage, "a secret needs some content", "the document is empty")
	}
	if store.HasSopsTopLevelKey(branches[0]) {
		return nil, fault.Newf(fault.Usage, "it is encrypted already: copy it into the secrets directory, or 'nixctl secrets cat' it first", "the input is already a sops file (it has a sops key)")
	}
	return branches, nil
}

// Encrypt makes a new sops file at path (used for its format and its rule)
// from plaintext, with a fresh data key for the rule's recipients.
func (s *Session) Encrypt(path string, f Format, plain []byte) ([]byte, *Rule, error) {
	if err := s.requireConfig(); err != nil {
		return nil, nil, err
	}
	rule, err := s.Config.RuleFor(path)
	if err != nil {
		return nil, nil, err
	}
	if err := rule.AgeOnly(path); err != nil {
		return nil, nil, err
	}
	branches, err := s.ParsePlain(f, plain)
	if err != nil {
		return nil, nil, err
	}
	c := rule.Config
	md := sops.Metadata{
		KeyGroups:               c.KeyGroups,
		ShamirThreshold:         c.ShamirThreshold,
		UnencryptedSuffix:       c.UnencryptedSuffix,
		EncryptedSuffix:         c.EncryptedSuffix,
		UnencryptedRegex:        c.UnencryptedRegex,
		EncryptedRegex:          c.EncryptedRegex,
		UnencryptedCommentRegex: c.UnencryptedCommentRegex,
		EncryptedCommentRegex:   c.EncryptedCommentRegex,
		MACOnlyEncrypted:        c.MACOnlyEncrypted,
		Version:                 sopsVersion,
	}
	// sops supplies this default when no rule chooses what to encrypt.
	if md.UnencryptedSuffix == "" && md.EncryptedSuffix == "" && md.UnencryptedRegex == "" && md.EncryptedRegex == "" &&
		md.UnencryptedCommentRegex == "" && md.EncryptedCommentRegex == "" && f != Binary {
		md.UnencryptedSuffix = sops.DefaultUnencryptedSuffix
	}
	tree := &sops.Tree{Branches: branches, Metadata: md, FilePath: path}
	key, errs := tree.GenerateDataKeyWithKeyServices(s.keyService().clients())
	if len(errs) > 0 {
		return nil, nil, fmt.Errorf("cannot encrypt the data key: %w", errors.Join(errs...))
	}
	out, err := s.Seal(&Opened{Encrypted: &Encrypted{Path: path, Format: f, Tree: tree, store: storeFor(f, s.stores)}, DataKey: key})
	return out, rule, err
}

// RekeyResult says what rekeying one file did.
type RekeyResult struct {
	Path    string
	Added   []Key
	Removed []Key
	// Rotated is true when the data key was replaced (a recipient left).
	Rotated bool
	Changed bool
}

// Rekey brings a file's keys in line with its creation rule, as sops
// updatekeys does: the data key is kept when keys were only added, and
// rotated (every value re-encrypted) when one was removed, so a retired key
// cannot read what is written from now on. With one key group and keys only
// added, the data key is wrapped for the new keys alone and the others (pgp
// ones too) stay as they are. It returns the new file content.
func (s *Session) Rekey(path string, data []byte) ([]byte, *RekeyResult, error) {
	e, err := s.Load(path, data)
	if err != nil {
		return nil, nil, err
	}
	rule, err := s.ruleOf(path)
	if err != nil {
		return nil, nil, err
	}
	res := &RekeyResult{Path: path}
	have := e.Keys()
	res.Added = keysMinus(rule.Keys(), flatten(have))
	res.Removed = keysMinus(flatten(have), rule.Keys())
	if sameGroups(have, rule.Groups) {
		return data, res, nil
	}
	res.Changed = true
	if len(res.Removed) == 0 && len(have) == 1 && len(rule.Groups) == 1 {
		var added []*sopsage.MasterKey
		for _, k := range res.Added {
			mk, err := ageMasterKey(k)
			if err != nil {
				return nil, nil, err
			}
			added = append(added, mk)
		}
		// Rewrapping the data key never reads the values: check them
		// first, so a tampered file is reported, not handed to more readers.
		o, err := s.Open(path, data)
		if err != nil {
			return nil, nil, err
		}
		e = o.Encrypted
		for _, mk := range added {
			if err := mk.Encrypt(o.DataKey); err != nil {
				return nil, nil, fmt.Errorf("cannot encrypt the data key for %s: %w", shortKey(mk.Recipient), err)
			}
			e.Tree.Metadata.KeyGroups[0] = append(e.Tree.Metadata.KeyGroups[0], mk)
		}
		// Decrypt left plaintext in the tree: emit from the stored bytes.
		e2, err := s.Load(path, data)
		if err != nil {
			return nil, nil, err
		}
		e2.Tree.Metadata.KeyGroups = e.Tree.Metadata.KeyGroups
		out, err := e2.store.EmitEncryptedFile(*e2.Tree)
		return out, res, err
	}
	groups, err := sopsGroups(rule)
	if err != nil {
		return nil, nil, err
	}
	if len(res.Removed) == 0 {
		if _, err := s.Open(path, data); err != nil {
			return nil, nil, err
		}
		e, err = s.Load(path, data)
		if err != nil {
			return nil, nil, err
		}
		key, err := s.DataKey(e)
		if err != nil {
			return nil, nil, err
		}
		md := &e.Tree.Metadata
		md.KeyGroups = groups
		md.ShamirThreshold = rule.ShamirThreshold
		if errs := md.UpdateMasterKeysWithKeyServices(key, s.keyService().clients()); len(errs) > 0 {
			return nil, nil, fmt.Errorf("cannot encrypt the data key: %w", errors.Join(errs...))
		}
		out, err := e.store.EmitEncryptedFile(*e.Tree)
		return out, res, err
	}
	o, err := s.Decrypt(e)
	if err != nil {
		return nil, nil, err
	}
	o.Tree.Metadata.KeyGroups = groups
	o.Tree.Metadata.ShamirThreshold = rule.ShamirThreshold
	key, errs := o.Tree.GenerateDataKeyWithKeyServices(s.keyService().clients())
	if len(errs) > 0 {
		return nil, nil, fmt.Errorf("cannot encrypt the data key: %w", errors.Join(errs...))
	}
	o.DataKey = key
	res.Rotated = true
	out, err := s.Seal(o)
	return out, res, err
}

// sopsVersion is written into files' metadata, as sops writes its own
// version: the sops module nixctl is built with (go.mod).
const sopsVersion = "3.13.3"
