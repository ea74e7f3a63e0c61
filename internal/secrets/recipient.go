package secrets

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/nixctl/nixctl/internal/fault"
)

// RecipientFromKeyFile reads the recipient of an age key file (keys.txt, as
// age-keygen or `secrets init` write it), or of a file holding an age1
// recipient (age-keygen -y's output).
func RecipientFromKeyFile(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	if r, err := existingRecipient(path); err == nil {
		return r, nil
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) > 0 && strings.HasPrefix(f[0], "age1") {
			return ParseRecipientLine([]byte(f[0]))
		}
	}
	return "", errors.New("holds neither an age secret key nor an age1 recipient")
}

// RecipientFromSSHPubkey reads an ssh-ed25519 public key file (a machine's
// /etc/ssh/ssh_host_ed25519_key.pub or a user's ~/.ssh/id_ed25519.pub) and
// converts it to its age recipient.
func RecipientFromSSHPubkey(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	if !strings.Contains(string(data), "ssh-") {
		return "", errors.New("not an SSH public key (ssh-ed25519 AAAA…)")
	}
	return ParseRecipientLine(data)
}

// Reader is one recipient and what it can read.
type Reader struct {
	Name      string   `json:"name"`
	Recipient string   `json:"recipient"`
	Rules     []string `json:"rules"`
	Files     []string `json:"files"`
}

// Readers lists every key named in .sops.yaml or found in a file, with
// the creation rules that list it and the files it can decrypt now.
func (s *Session) Readers() ([]Reader, error) {
	if err := s.requireConfig(); err != nil {
		return nil, err
	}
	byKey := map[string]*Reader{}
	var order []string
	get := func(k Key) *Reader {
		id := k.String()
		if rd, ok := byKey[id]; ok {
			return rd
		}
		rd := &Reader{Name: printable(s.Config.Name(k.Value)), Recipient: id, Rules: []string{}, Files: []string{}}
		byKey[id] = rd
		order = append(order, id)
		return rd
	}
	for _, r := range s.Config.Rules() {
		for _, k := range r.Keys() {
			rd := get(k)
			if l := r.Label(); !slices.Contains(rd.Rules, l) {
				rd.Rules = append(rd.Rules, l)
			}
		}
	}
	files, err := s.sopsFiles()
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		e := f.encrypted
		for _, k := range flatten(e.Keys()) {
			rd := get(k)
			if rel := printable(s.Repo.Rel(f.abs)); !slices.Contains(rd.Files, rel) {
				rd.Files = append(rd.Files, rel)
			}
		}
	}
	out := make([]Reader, 0, len(order))
	for _, id := range order {
		out = append(out, *byKey[id])
	}
	return out, nil
}

// RecipientEdit plans adding recipient as name, one of the user's own
// machines, to the rules sel picks.
func (s *Session) RecipientEdit(name, recipient string, sel RuleSelector) (*Edit, error) {
	if err := s.requireConfig(); err != nil {
		return nil, err
	}
	return s.Config.AddRecipient(sel, NewRecipient{Name: name, Key: Key{Type: "age", Value: recipient}, Group: -1, KeysList: "users"})
}

// SecondMachineCommand is what to run on a machine that can already decrypt
// so that this machine's recipient joins name's rules.
func SecondMachineCommand(name, recipient string) string {
	return fmt.Sprintf("nixctl secrets recipient add %s %s", name, recipient)
}

// CheckRecipientSource makes sure exactly one source of a recipient was
// given.
func CheckRecipientSource(n int) error {
	if n != 1 {
		return fault.Usagef("nixctl secrets recipient add NAME age1…  (or --key-file FILE, or --ssh-pubkey FILE)",
			"give the recipient once: as age1…, --key-file or --ssh-pubkey")
	}
	return nil
}
