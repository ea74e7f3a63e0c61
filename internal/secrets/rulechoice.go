package secrets

import (
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/nixctl/nixctl/internal/exitcode"
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
	Beyond []string `json:"beyond,omitempty"`
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
			if i, ok := s.Config.ruleIndex(f.abs); ok {
				chosen[i] = true
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
			if i, ok := s.Config.ruleIndex(filepath.Join(s.Repo.Root, filepath.FromSlash(p))); ok {
				chosen[i] = true
				break
			}
		}
	}
	for i, r := range s.Config.rules("") {
		if !chosen[i] {
			continue
		}
		pr := mapGet(r, "path_regex")
		if pr == nil || pr.Value == "" {
			return nil, exitcode.Newf(exitcode.Secrets, "give that rule a path_regex, or add a rule for these files above it",
				"the creation rule that covers %s has no path_regex: adding a key there would let it read every file", strings.Join(globs, ", "))
		}
		ch.Rules = append(ch.Rules, pr.Value)
	}
	for _, f := range files {
		rel := filepath.ToSlash(s.Repo.Rel(f.abs))
		if matched[rel] || f.problem != "" {
			continue
		}
		if i, ok := s.Config.ruleIndex(f.abs); ok && chosen[i] {
			ch.Beyond = append(ch.Beyond, rel)
		}
	}
	return ch, nil
}

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

// ruleIndex is the index among creation_rules of the rule sops picks for
// abs, by sops's own matching (config.parseCreationRuleForFile): the first
// rule without path_regex or whose path_regex matches the path relative to
// .sops.yaml's directory.
func (c *SopsConfig) ruleIndex(abs string) (int, bool) {
	dir, err := filepath.Abs(filepath.Dir(c.Path))
	if err != nil {
		return 0, false
	}
	rel := strings.TrimPrefix(abs, dir+string(filepath.Separator))
	for i, r := range c.rules("") {
		pr := mapGet(r, "path_regex")
		if pr == nil || pr.Value == "" {
			return i, true
		}
		re, err := regexp.Compile(pr.Value)
		if err != nil {
			return 0, false
		}
		if re.MatchString(rel) {
			return i, true
		}
	}
	return 0, false
}
