package secrets

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/nixctl/nixctl/internal/exitcode"
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

// Readers lists every recipient named in .sops.yaml or found in a file,
// with the creation rules that list it and the files it can decrypt now.
func (s *Session) Readers() ([]Reader, error) {
	if err := s.requireConfig(); err != nil {
		return nil, err
	}
	byRecipient := map[string]*Reader{}
	var order []string
	get := func(r string) *Reader {
		if rd, ok := byRecipient[r]; ok {
			return rd
		}
		rd := &Reader{Name: s.name(r), Recipient: r, Rules: []string{}, Files: []string{}}
		byRecipient[r] = rd
		order = append(order, r)
		return rd
	}
	names := make([]string, 0, len(s.Config.anchors))
	for n := range s.Config.anchors {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		get(s.Config.anchors[n])
	}
	for _, r := range s.Config.rules("") {
		pr := "(every file)"
		if p := mapGet(r, "path_regex"); p != nil && p.Value != "" {
			pr = p.Value
		}
		for _, l := range allAgeLists(r) {
			for _, rec := range listRecipients(l) {
				rd := get(rec)
				if !slices.Contains(rd.Rules, pr) {
					rd.Rules = append(rd.Rules, pr)
				}
			}
		}
	}
	files, err := s.treeFiles()
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		if f.problem != "" {
			continue
		}
		data, _, err := readSecret(f.abs)
		if err != nil {
			continue
		}
		e, err := s.Load(f.abs, data)
		if err != nil {
			continue
		}
		for _, rec := range e.Recipients() {
			rd := get(rec)
			rd.Files = append(rd.Files, printable(s.Repo.Rel(f.abs)))
		}
	}
	out := make([]Reader, 0, len(order))
	for _, r := range order {
		out = append(out, *byRecipient[r])
	}
	return out, nil
}

// listRecipients reads the recipients of an age: value (a list, possibly of
// aliases, or a comma-separated string).
func listRecipients(list *yaml.Node) []string {
	var out []string
	list = resolve(list)
	switch {
	case list == nil:
	case len(list.Content) > 0:
		for _, it := range list.Content {
			if v := strings.TrimSpace(resolve(it).Value); v != "" {
				out = append(out, v)
			}
		}
	default:
		for _, r := range strings.Split(list.Value, ",") {
			if r = strings.TrimSpace(r); r != "" {
				out = append(out, r)
			}
		}
	}
	return out
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
		return exitcode.UsageErrorf("nixctl secrets recipient add NAME age1…  (or --key-file FILE, or --ssh-pubkey FILE)",
			"give the recipient once: as age1…, --key-file or --ssh-pubkey")
	}
	return nil
}
