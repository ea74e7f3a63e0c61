package secrets

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	"filippo.io/age"
	"filippo.io/age/agessh"
	"github.com/google/shlex"

	"github.com/nixctl/nixctl/internal/execx"
)

// Env is what key lookup needs from the process: the variables sops reads
// keys from ("" is unset, as for sops), the home directory and the runner
// for the key commands.
type Env struct {
	Home string
	// ConfigHome is $XDG_CONFIG_HOME.
	ConfigHome string
	// AgeKey, AgeKeyFile and AgeKeyCmd are SOPS_AGE_KEY, SOPS_AGE_KEY_FILE
	// and SOPS_AGE_KEY_CMD.
	AgeKey     string
	AgeKeyFile string
	AgeKeyCmd  string
	// SSHKeyFile and SSHKeyCmd are SOPS_AGE_SSH_PRIVATE_KEY_FILE and _CMD.
	SSHKeyFile string
	SSHKeyCmd  string
	Runner     execx.Runner
}

// ConfigDir is where sops looks for keys.txt: $XDG_CONFIG_HOME, else the
// platform's user configuration directory (~/.config on Linux).
func (e Env) ConfigDir() string {
	if d := e.ConfigHome; d != "" {
		return d
	}
	if runtime.GOOS == "darwin" {
		return filepath.Join(e.Home, "Library", "Application Support")
	}
	return filepath.Join(e.Home, ".config")
}

// KeyFile is where `secrets init` writes the user's key: SOPS_AGE_KEY_FILE,
// else <config dir>/sops/age/keys.txt, the two files sops reads.
func (e Env) KeyFile() string {
	if f := e.AgeKeyFile; f != "" {
		return f
	}
	return filepath.Join(e.ConfigDir(), "sops", "age", "keys.txt")
}

// Keyring holds the age identities found the way sops v3.13.3 finds them
// (age/keysource.go, loadIdentities). Every source is read and all the
// identities found are tried:
//
//  1. SOPS_AGE_SSH_PRIVATE_KEY_FILE: an SSH private key
//  2. SOPS_AGE_SSH_PRIVATE_KEY_CMD: a command printing an SSH private key
//  3. ~/.ssh/id_ed25519 and ~/.ssh/id_rsa
//  4. SOPS_AGE_KEY: age keys, several per line allowed
//  5. SOPS_AGE_KEY_FILE: an age keys file
//  6. SOPS_AGE_KEY_CMD: a command printing age keys, run with
//     SOPS_AGE_RECIPIENT set to the recipient being decrypted
//  7. $XDG_CONFIG_HOME/sops/age/keys.txt (~/.config/sops/age/keys.txt)
type Keyring struct {
	env    Env
	ctx    context.Context
	static []age.Identity
	// Looked lists the places that were searched, for error messages.
	Looked []string
	// Found lists the places that gave at least one identity.
	Found  []string
	errs   []error
	cmd    string
	mu     sync.Mutex
	perRec map[string][]age.Identity
}

// LoadKeyring reads every key source. It never fails: a keyring without
// identities makes decryption fail with a message naming the places searched.
func LoadKeyring(ctx context.Context, env Env) *Keyring {
	k := &Keyring{env: env, ctx: ctx, perRec: map[string][]age.Identity{}}
	if p := env.SSHKeyFile; p != "" {
		k.addSSHFile("SOPS_AGE_SSH_PRIVATE_KEY_FILE", p)
	} else {
		k.Looked = append(k.Looked, "SOPS_AGE_SSH_PRIVATE_KEY_FILE")
	}
	if c := env.SSHKeyCmd; c != "" {
		out, err := k.runCmd(c, "")
		if err == nil {
			var id age.Identity
			id, err = agessh.ParseIdentity(out)
			if err == nil {
				k.add("SOPS_AGE_SSH_PRIVATE_KEY_CMD", id)
			}
		}
		if err != nil {
			k.errs = append(k.errs, fmt.Errorf("SOPS_AGE_SSH_PRIVATE_KEY_CMD: %w", err))
		}
	} else {
		k.Looked = append(k.Looked, "SOPS_AGE_SSH_PRIVATE_KEY_CMD")
	}
	if env.Home != "" {
		for _, name := range []string{"id_ed25519", "id_rsa"} {
			p := filepath.Join(env.Home, ".ssh", name)
			if _, err := os.Stat(p); err == nil {
				k.addSSHFile(p, p)
			} else {
				k.Looked = append(k.Looked, p)
			}
		}
	}
	if v := env.AgeKey; v != "" {
		k.addAgeKeys("SOPS_AGE_KEY", strings.NewReader(v), true)
	} else {
		k.Looked = append(k.Looked, "SOPS_AGE_KEY")
	}
	if p := env.AgeKeyFile; p != "" {
		k.addAgeFile("SOPS_AGE_KEY_FILE", p, true)
	} else {
		k.Looked = append(k.Looked, "SOPS_AGE_KEY_FILE")
	}
	if c := env.AgeKeyCmd; c != "" {
		k.cmd = c
		k.Found = append(k.Found, "SOPS_AGE_KEY_CMD")
	} else {
		k.Looked = append(k.Looked, "SOPS_AGE_KEY_CMD")
	}
	p := filepath.Join(env.ConfigDir(), "sops", "age", "keys.txt")
	k.addAgeFile(p, p, false)
	return k
}

// HasKeys reports whether any identity (or a key command) is available.
func (k *Keyring) HasKeys() bool { return len(k.static) > 0 || k.cmd != "" }

// Err explains why no key could decrypt, naming the places searched; it
// never contains key material.
func (k *Keyring) Err() error {
	msg := "no age key here can decrypt it"
	if !k.HasKeys() {
		msg = "no age key found"
		if len(k.Looked) > 0 {
			msg += " (looked in " + strings.Join(k.Looked, ", ") + ")"
		}
	}
	if len(k.Found) > 0 {
		msg += " (keys tried from " + strings.Join(k.Found, ", ") + ")"
	}
	if len(k.errs) > 0 {
		msg += "; " + errors.Join(k.errs...).Error()
	}
	return errors.New(strings.ReplaceAll(msg, "\n", "; "))
}

// X25519 returns the native age identities found (those init can reuse).
func (k *Keyring) X25519() []*age.X25519Identity {
	var out []*age.X25519Identity
	for _, id := range k.static {
		if x, ok := id.(*age.X25519Identity); ok {
			out = append(out, x)
		}
	}
	return out
}

// identitiesFor returns the identities to try for recipient.
func (k *Keyring) identitiesFor(recipient string) []age.Identity {
	ids := append([]age.Identity(nil), k.static...)
	if k.cmd == "" {
		return ids
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	got, ok := k.perRec[recipient]
	if !ok {
		out, err := k.runCmd(k.cmd, recipient)
		if err == nil {
			got, err = age.ParseIdentities(bytes.NewReader(out))
		}
		if err != nil {
			k.errs = append(k.errs, fmt.Errorf("SOPS_AGE_KEY_CMD: %w", err))
		}
		k.perRec[recipient] = got
	}
	return append(ids, got...)
}

// runCmd runs a key command the way sops does (split like a shell would, no
// shell), through the runner; its output is key material and is never shown.
func (k *Keyring) runCmd(command, recipient string) ([]byte, error) {
	argv, err := shlex.Split(command)
	if err != nil || len(argv) == 0 {
		return nil, fmt.Errorf("cannot parse the command")
	}
	var env []string
	if recipient != "" {
		env = []string{"SOPS_AGE_RECIPIENT=" + recipient}
	}
	res, err := k.env.Runner.Run(k.ctx, execx.Cmd{Argv: argv, Env: env, ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("%s failed", argv[0])
	}
	return res.Stdout, nil
}

func (k *Keyring) add(source string, ids ...age.Identity) {
	if len(ids) == 0 {
		k.Looked = append(k.Looked, source)
		return
	}
	k.static = append(k.static, ids...)
	k.Found = append(k.Found, source)
}

func (k *Keyring) addSSHFile(source, path string) {
	data, err := os.ReadFile(path)
	if err != nil {
		k.errs = append(k.errs, fmt.Errorf("%s: %w", source, err))
		return
	}
	id, err := agessh.ParseIdentity(data)
	if err != nil {
		// A passphrase-protected key cannot be used without a prompt; sops
		// skips it too.
		k.errs = append(k.errs, fmt.Errorf("%s: not usable as an age identity", path))
		return
	}
	k.add(source, id)
}

func (k *Keyring) addAgeFile(source, path string, mustExist bool) {
	f, err := os.Open(path)
	if err != nil {
		if mustExist || !errors.Is(err, os.ErrNotExist) {
			k.errs = append(k.errs, fmt.Errorf("%s: %w", source, err))
		} else {
			k.Looked = append(k.Looked, path)
		}
		return
	}
	defer f.Close()
	k.addAgeKeys(source, f, false)
}

// addAgeKeys parses age identities: one per line, # comments and blank lines
// ignored; several per line when multi (SOPS_AGE_KEY). Errors never quote the
// line, which may hold a key.
func (k *Keyring) addAgeKeys(source string, r io.Reader, multi bool) {
	var ids []age.Identity
	sc := bufio.NewScanner(r)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		words := []string{line}
		if multi {
			words = strings.Fields(line)
		}
		for _, w := range words {
			id, err := parseIdentity(w)
			if err != nil {
				k.errs = append(k.errs, fmt.Errorf("%s: line %d is not an age secret key", source, n))
				continue
			}
			ids = append(ids, id)
		}
	}
	k.add(source, ids...)
}

func parseIdentity(s string) (age.Identity, error) {
	switch {
	case strings.HasPrefix(s, "AGE-SECRET-KEY-PQ-1"):
		return age.ParseHybridIdentity(s)
	case strings.HasPrefix(s, "AGE-SECRET-KEY-1"):
		return age.ParseX25519Identity(s)
	}
	return nil, errors.New("unknown identity type")
}
