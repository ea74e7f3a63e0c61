package secrets

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/nixctl/nixctl/internal/exitcode"
)

// AccessReport says what a change of recipients did: the rules edited, the
// files rekeyed, and the files left alone because their recipients already
// differed from .sops.yaml (someone's hand edit, which nixctl neither
// confirms nor undoes unasked).
type AccessReport struct {
	Name      string      `json:"name"`
	Recipient string      `json:"recipient"`
	Config    string      `json:"config"`
	Changed   bool        `json:"changed"`
	Rules     []string    `json:"rules"`
	Files     []RekeyLine `json:"files"`
	LeftAlone []string    `json:"leftAlone,omitempty"`
}

// fileAccess is one sops file before a change.
type fileAccess struct {
	path string
	data []byte
	have []string
	rule []string
	err  error
}

// changeAccess applies edit to a copy of .sops.yaml and rekeys exactly the
// files whose creation rule now lists other recipients, all or nothing:
// every rekey is computed in memory first, and if one fails nothing is
// written, .sops.yaml included, and the error names every such file.
func (s *Session) changeAccess(rep *AccessReport, edit func(*SopsConfig) error, w Writer) error {
	if err := s.requireConfig(); err != nil {
		return err
	}
	rep.Config = s.Repo.Rel(s.Config.Path)
	before, err := s.snapshot()
	if err != nil {
		return err
	}
	edited, err := parseSopsConfig(s.Config.Path, slices.Clone(s.Config.Data))
	if err != nil {
		return err
	}
	if err := edit(edited); err != nil {
		return err
	}
	if string(edited.Data) == string(s.Config.Data) {
		return nil
	}
	rep.Changed = true
	// sops's own parser decides which rule a file falls under, and it reads
	// a file: give it the edited configuration beside the real one, so that
	// path_regex is matched against the same relative paths.
	probe, err := os.CreateTemp(filepath.Dir(s.Config.Path), ".sops.yaml.nixctl-*")
	if err != nil {
		return err
	}
	defer os.Remove(probe.Name())
	if _, err := probe.Write(edited.Data); err != nil {
		probe.Close()
		return err
	}
	if err := probe.Close(); err != nil {
		return err
	}
	original := s.Config
	s.Config = &SopsConfig{Path: probe.Name(), Data: edited.Data, doc: edited.doc, anchors: edited.anchors}
	defer func() { s.Config = original }()

	type rekeyed struct {
		path string
		out  []byte
	}
	var writes []rekeyed
	var failed []string
	for _, f := range before {
		rule, ruleErr := s.Config.RuleFor(f.path)
		var after []string
		if ruleErr == nil {
			after = rule.Recipients
		}
		if sameSet(after, f.rule) && (ruleErr == nil) == (f.err == nil) {
			continue
		}
		rel := printable(s.Repo.Rel(f.path))
		if f.err == nil && !sameSet(f.have, f.rule) {
			rep.LeftAlone = append(rep.LeftAlone, rel)
			continue
		}
		out, res, err := s.Rekey(f.path, f.data)
		if err != nil {
			failed = append(failed, rel+" ("+strings.ReplaceAll(errText(err), probe.Name(), original.Path)+")")
			continue
		}
		rep.Files = append(rep.Files, RekeyLine{Path: rel, Added: s.names(res.Added), Removed: s.names(res.Removed), Rotated: res.Rotated, Changed: res.Changed})
		if res.Changed {
			writes = append(writes, rekeyed{f.path, out})
		}
	}
	if len(failed) > 0 {
		return exitcode.Newf(exitcode.Secrets, "nothing was written: fix those files (or their rule) and run the command again",
			"%d file(s) could not be rekeyed: %s", len(failed), strings.Join(failed, "; "))
	}
	if err := w.WriteFile(original.Path, edited.Data, 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", rep.Config, err)
	}
	s.Config = edited
	original = edited
	for _, wr := range writes {
		if err := w.WriteFile(wr.path, wr.out, 0o644); err != nil {
			return fmt.Errorf("writing %s: %w", s.Repo.Rel(wr.path), err)
		}
	}
	return nil
}

// snapshot reads every sops file under the secrets directory with its
// recipients and its rule's, before a change.
func (s *Session) snapshot() ([]fileAccess, error) {
	files, err := s.treeFiles()
	if err != nil {
		return nil, err
	}
	var out []fileAccess
	for _, c := range files {
		if c.problem != "" {
			continue
		}
		data, _, err := readSecret(c.abs)
		if err != nil {
			continue
		}
		e, err := s.Load(c.abs, data)
		if err != nil {
			continue
		}
		fa := fileAccess{path: c.abs, data: data, have: e.Recipients()}
		rule, err := s.Config.RuleFor(c.abs)
		if err == nil {
			fa.rule = rule.Recipients
		}
		fa.err = err
		out = append(out, fa)
	}
	return out, nil
}

func sameSet(a, b []string) bool { return len(minus(a, b)) == 0 && len(minus(b, a)) == 0 }

// Grant adds recipient under anchor name to the creation rules whose
// path_regex is in rules, then rekeys the files of those rules.
func (s *Session) Grant(name, recipient string, rules []string, w Writer) (*AccessReport, error) {
	if len(rules) == 0 {
		return nil, exitcode.UsageErrorf("name the rules with --rule REGEX", "no creation rule chosen for %s", name)
	}
	rep := &AccessReport{Name: name, Recipient: recipient, Rules: rules}
	err := s.changeAccess(rep, func(c *SopsConfig) error {
		for _, r := range rules {
			if _, err := c.AddRecipient(name, recipient, r); err != nil {
				return err
			}
		}
		return nil
	}, w)
	if err != nil {
		return nil, err
	}
	return rep, nil
}

// Revoke removes the key anchored as name from .sops.yaml and rekeys the
// files that listed it, rotating their data keys.
func (s *Session) Revoke(name string, w Writer) (*AccessReport, error) {
	rep := &AccessReport{Name: name}
	if err := s.requireConfig(); err != nil {
		return nil, err
	}
	rep.Recipient, _ = s.Config.Anchor(name)
	for _, r := range s.Config.rules("") {
		for _, l := range allAgeLists(r) {
			if rep.Recipient != "" && listHas(l, rep.Recipient) {
				if pr := mapGet(r, "path_regex"); pr != nil {
					rep.Rules = append(rep.Rules, pr.Value)
				}
			}
		}
	}
	if s.retired == nil {
		s.retired = map[string]string{}
	}
	s.retired[rep.Recipient] = name
	err := s.changeAccess(rep, func(c *SopsConfig) error {
		if _, err := c.RemoveRecipient(name); err != nil {
			return err
		}
		if empty := c.emptyRules(); len(empty) > 0 {
			return exitcode.Newf(exitcode.Secrets, "add another recipient to the rule first",
				"removing %s would leave no recipient in the creation rule %s", name, strings.Join(empty, ", "))
		}
		return nil
	}, w)
	if err != nil {
		return nil, err
	}
	return rep, nil
}
