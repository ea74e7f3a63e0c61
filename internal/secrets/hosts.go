package secrets

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/nixctl/nixctl/internal/fault"
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
		return "", nil, fault.New(fault.Inventory, err, fault.HintOf(err))
	}
	keys, err := d.FetchHostKeys(ctx, r)
	if err != nil {
		return "", nil, fault.New(fault.Failure, fmt.Errorf("fetching the host key of %s: %w", h.Name, err), fault.HintOf(err))
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
	return "", nil, fault.Newf(fault.Failure, "enable it (services.openssh.hostKeys with type ed25519), or pass --key-file",
		"%s offers no ed25519 host key (only %s): sops-nix derives its age key from /etc/ssh/ssh_host_ed25519_key", h.Name, strings.Join(types, ", "))
}

// AccessChange is a change of who can read what, planned in memory: the
// .sops.yaml edit and each file under a changed rule, rekeyed but not yet
// written.
type AccessChange struct {
	Edit *Edit
	// Drifted are files under a changed rule whose keys already differed
	// from that rule: they are left alone ('secrets rekey' handles them).
	Drifted []string
	files   []plannedFile
}

// PlanAccess rekeys in memory the files whose rule edit changes. Files
// under other rules are not touched; a file whose keys already differed
// from its rule is reported in Drifted and left as it is.
func (s *Session) PlanAccess(edit *Edit) (*AccessChange, error) {
	ch := &AccessChange{Edit: edit}
	files, err := s.sopsFiles()
	if err != nil {
		return nil, err
	}
	after := *s
	after.Config = edit.After
	for _, f := range files {
		e := f.encrypted
		before := *s
		before.Config = edit.Before
		rule, err := before.ruleOf(f.abs)
		if err != nil || !slices.Contains(edit.Rules, rule.Index) {
			continue
		}
		rel := printable(s.Repo.Rel(f.abs))
		if !sameGroups(e.Keys(), rule.Groups) {
			ch.Drifted = append(ch.Drifted, rel)
			continue
		}
		ch.files = append(ch.files, after.planRekey(f.abs))
	}
	return ch, nil
}

// Apply reports each planned file and, when none failed, writes .sops.yaml
// and the files; otherwise nothing is written.
func (s *Session) Apply(ch *AccessChange, w Writer, report func(RekeyLine)) ([]RekeyLine, error) {
	if !ch.Edit.Changed() {
		return nil, nil
	}
	return s.writePlanned(ch.files, ch.Edit.After, w, report)
}

// Retire remembers the name of a key taken out of .sops.yaml, so the
// lines that follow still say which host lost access.
func (s *Session) Retire(k Key, name string) {
	if s.retired == nil {
		s.retired = map[string]string{}
	}
	s.retired[k.Value] = name
}

// HostEdit plans adding recipient as name to the rules sel picks (group:
// the key group to join, -1 to let nixctl pick).
func (s *Session) HostEdit(name, recipient string, sel RuleSelector, group int) (*Edit, error) {
	if err := s.requireConfig(); err != nil {
		return nil, err
	}
	return s.Config.AddRecipient(sel, NewRecipient{Name: name, Key: Key{Type: "age", Value: recipient}, Group: group, KeysList: "hosts"})
}

// RemoveHostEdit plans taking the key anchored as name out of every rule.
func (s *Session) RemoveHostEdit(name string) (*Edit, Key, error) {
	if err := s.requireConfig(); err != nil {
		return nil, Key{}, err
	}
	value, ok := s.Config.Anchor(name)
	if !ok {
		return nil, Key{}, fault.Newf(fault.Usage, "'nixctl secrets list' shows the names in use", "%s names no key in %s", name, s.Repo.Rel(s.Config.Path))
	}
	k := Key{Type: looksLike(value), Value: value}
	edit, err := s.Config.RemoveRecipient(EveryRule(), k)
	if err != nil {
		return nil, k, err
	}
	if empty := edit.Empty(); len(empty) > 0 {
		var labels []string
		for _, r := range empty {
			labels = append(labels, r.Label())
		}
		return nil, k, fault.Newf(fault.Secrets, "add another recipient to the rule first",
			"removing %s would leave no recipient in %s", name, strings.Join(labels, ", "))
	}
	s.Retire(k, name)
	return edit, k, nil
}
