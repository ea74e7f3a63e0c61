package secrets

import (
	"path/filepath"
	"slices"
	"strings"

	"github.com/nixctl/nixctl/internal/fault"
	"github.com/nixctl/nixctl/internal/inventory"
)

// RuleChoice is the set of creation rules that cover a machine's secrets.
type RuleChoice struct {
	// Globs are what the machine needs (from the inventory or its default).
	Globs []string `json:"globs"`
	// Rules are the path_regex of the rules, in .sops.yaml's order.
	Rules []string `json:"rules"`
	// Files are the sops files the globs name today.
	Files []string `json:"files"`
	// Beyond are files those rules also cover that the globs do not name:
	// joining the rules would let the machine read them too.
	Beyond  []string `json:"beyond,omitempty"`
	indexes []int
}

// RulesForGlobs finds the creation rules sops would use for the files that
// globs (relative to the fleet directory) name: the existing files, and for
// a glob that names none yet, a file it would name (so the rule for future
// files is known too).
func (s *Session) RulesForGlobs(globs []string) (*RuleChoice, error) {
	if err := s.requireConfig(); err != nil {
		return nil, err
	}
	ch := &RuleChoice{Globs: globs}
	files, err := s.treeFiles()
	if err != nil {
		return nil, err
	}
	chosen := map[int]bool{}
	matched := map[string]bool{}
	for _, g := range globs {
		any := false
		for _, f := range files {
			rel := filepath.ToSlash(s.Repo.Rel(f.abs))
			if !inventory.MatchSecretGlob(g, rel) {
				continue
			}
			any = true
			if r, err := s.ruleOf(f.abs); err == nil {
				chosen[r.Index] = true
			}
			if !matched[rel] {
				matched[rel] = true
				ch.Files = append(ch.Files, rel)
			}
		}
		if any {
			continue
		}
		for _, p := range probes(g) {
			if !inventory.MatchSecretGlob(g, p) {
				continue
			}
			if r, err := s.ruleOf(filepath.Join(s.Repo.Root, filepath.FromSlash(p))); err == nil {
				chosen[r.Index] = true
				break
			}
		}
	}
	for _, r := range s.Config.Rules() {
		if !chosen[r.Index] {
			continue
		}
		if r.PathRegex == "" {
			return nil, fault.Newf(fault.Secrets, "give that rule a path_regex, or add a rule for these files above it",
				"the creation rule that covers %s has no path_regex: adding a key there would let it read every file", strings.Join(globs, ", "))
		}
		ch.Rules = append(ch.Rules, r.PathRegex)
		ch.indexes = append(ch.indexes, r.Index)
	}
	for _, f := range files {
		rel := filepath.ToSlash(s.Repo.Rel(f.abs))
		if matched[rel] || f.problem != "" {
			continue
		}
		if r, err := s.ruleOf(f.abs); err == nil && chosen[r.Index] {
			ch.Beyond = append(ch.Beyond, rel)
		}
	}
	return ch, nil
}

// Selector picks the chosen rules for an edit.
func (ch *RuleChoice) Selector() RuleSelector { return RuleIndexes(ch.indexes...) }

// probes are file names a glob could name, most specific first, to find the
// rule future files will fall under.
func probes(glob string) []string {
	var out []string
	for _, ext := range []string{".yaml", ".yml", ".json", ".env", ".ini", ""} {
		p := glob
		p = strings.ReplaceAll(p, "**", "x")
		p = strings.ReplaceAll(p, "*", "x"+ext)
		p = strings.ReplaceAll(p, "?", "x")
		if strings.HasSuffix(glob, "**") {
			p += ext
		}
		if !strings.ContainsAny(p, "[]{}") && !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out
}
