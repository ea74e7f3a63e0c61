package secrets

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	sopsage "github.com/getsops/sops/v3/age"
	sopsconfig "github.com/getsops/sops/v3/config"
	"go.yaml.in/yaml/v3"

	"github.com/nixctl/nixctl/internal/fault"
	"github.com/nixctl/nixctl/internal/yamledit"
)

// SopsConfig is .sops.yaml as the user wrote it: the original bytes, the
// YAML node tree (for positions and anchors) and the creation rules read the
// way sops reads them. Edits (sopsedit.go) change lines of Data, never
// re-encode the tree, so comments, blank lines, CRLF and layout stay.
type SopsConfig struct {
	Path string
	Data []byte
	doc  *yaml.Node
	// eol is the line ending the file uses ("\r\n" or "\n").
	eol string
	// anchors maps every anchor name to its node.
	anchors map[string]*yaml.Node
	rules   []CreationRule
}

// Key is one recipient of a rule: its type as .sops.yaml spells it (age,
// pgp, kms, gcp_kms, azure_keyvault, hc_vault, hckms) and its value (the
// age recipient, the pgp fingerprint, the KMS ARN...).
type Key struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

// String is "age1…" for age keys (nixctl's usual case) and "type:value"
// for the others.
func (k Key) String() string {
	if k.Type == "age" {
		return k.Value
	}
	return k.Type + ":" + k.Value
}

// CreationRule is one entry of creation_rules, as sops reads it.
type CreationRule struct {
	// Index is the rule's position in creation_rules (0-based).
	Index int
	// PathRegex is empty for a rule that matches every file.
	PathRegex string
	// Groups are the key groups sops builds: key_groups when present, else
	// one group of the rule's own age:, pgp:, kms: ... keys.
	Groups [][]Key
	// Grouped is true when the rule uses key_groups.
	Grouped bool
	// ShamirThreshold is the rule's shamir_threshold (0: every group).
	ShamirThreshold int
	node            *yaml.Node
}

// Required is how many key groups must be opened to decrypt.
func (r CreationRule) Required() int {
	if r.ShamirThreshold <= 0 || r.ShamirThreshold > len(r.Groups) {
		return len(r.Groups)
	}
	return r.ShamirThreshold
}

// Label names the rule for messages.
func (r CreationRule) Label() string {
	if r.PathRegex == "" {
		return fmt.Sprintf("rule %d (no path_regex)", r.Index+1)
	}
	return fmt.Sprintf("rule %d (%s)", r.Index+1, r.PathRegex)
}

// Keys lists every key of the rule, all groups together.
func (r CreationRule) Keys() []Key {
	var out []Key
	for _, g := range r.Groups {
		out = append(out, g...)
	}
	return out
}

// GroupOf returns the index of the first group holding k, or -1.
func (r CreationRule) GroupOf(k Key) int {
	for i, g := range r.Groups {
		if slices.Contains(g, k) {
			return i
		}
	}
	return -1
}

// CanDecryptAlone reports whether a holder of k alone can recover the data
// key: k must sit in at least Required() groups.
func (r CreationRule) CanDecryptAlone(k Key) bool {
	n := 0
	for _, g := range r.Groups {
		if slices.Contains(g, k) {
			n++
		}
	}
	return n > 0 && n >= r.Required()
}

// ErrNoSopsConfig is returned when .sops.yaml does not exist.
var ErrNoSopsConfig = errors.New(".sops.yaml not found")

func missingSopsConfig(path string) error {
	return fault.New(fault.Secrets, fmt.Errorf("%s: %w", path, ErrNoSopsConfig), "run 'nixctl secrets init' to create it")
}

// LoadSopsConfig reads and parses path.
func LoadSopsConfig(path string) (*SopsConfig, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, missingSopsConfig(path)
	}
	if err != nil {
		return nil, err
	}
	return ParseSopsConfig(path, data)
}

// ParseSopsConfig reads .sops.yaml bytes; path is where the file lives
// (path_regex is matched relative to its directory).
func ParseSopsConfig(path string, data []byte) (*SopsConfig, error) {
	c := &SopsConfig{Path: path, Data: data, eol: yamledit.New(data).EOL, anchors: map[string]*yaml.Node{}}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fault.Newf(fault.Secrets, "fix the YAML syntax of "+path, "%s: %v", path, err)
	}
	if len(doc.Content) == 0 {
		doc = yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{{Kind: yaml.MappingNode, Tag: "!!map"}}}
	}
	if doc.Content[0].Kind != yaml.MappingNode {
		return nil, fault.Newf(fault.Secrets, "a .sops.yaml is a mapping with creation_rules", "%s is not a YAML mapping", path)
	}
	c.doc = &doc
	walk(&doc, func(n *yaml.Node) {
		if n.Anchor != "" {
			c.anchors[n.Anchor] = n
		}
	})
	rules, err := readRules(c.top())
	if err != nil {
		return nil, fault.Newf(fault.Secrets, "sops would refuse it too: fix "+path, "%s: %v", path, err)
	}
	c.rules = rules
	return c, nil
}

func walk(n *yaml.Node, f func(*yaml.Node)) {
	f(n)
	if n.Kind == yaml.AliasNode {
		return
	}
	for _, c := range n.Content {
		walk(c, f)
	}
}

func (c *SopsConfig) top() *yaml.Node { return c.doc.Content[0] }

func mapGet(m *yaml.Node, key string) *yaml.Node {
	_, v := mapEntry(m, key)
	return v
}

// mapEntry returns the key and value nodes of key in mapping m.
func mapEntry(m *yaml.Node, key string) (*yaml.Node, *yaml.Node) {
	m = resolve(m)
	if m == nil || m.Kind != yaml.MappingNode {
		return nil, nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i], m.Content[i+1]
		}
	}
	return nil, nil
}

func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	n = resolve(n)
	return n == nil || (n.Kind == yaml.ScalarNode && n.Tag == "!!null")
}

// keyTypes are the key fields of a rule or key group, in the order sops
// builds a group from them.
var keyTypes = []string{"age", "pgp", "kms", "gcp_kms", "hckms", "azure_keyvault", "hc_vault"}

// ruleField is the rule-level spelling of a key type (hc_vault is
// hc_vault_transit_uri there).
func ruleField(t string) string {
	if t == "hc_vault" {
		return "hc_vault_transit_uri"
	}
	return t
}

func readRules(top *yaml.Node) ([]CreationRule, error) {
	seq := resolve(mapGet(top, "creation_rules"))
	if isNull(seq) {
		return nil, nil
	}
	if seq.Kind != yaml.SequenceNode {
		return nil, errors.New("creation_rules is not a list")
	}
	var out []CreationRule
	for i, item := range seq.Content {
		r := resolve(item)
		if r.Kind != yaml.MappingNode {
			return nil, fmt.Errorf("creation rule %d is not a mapping", i+1)
		}
		rule := CreationRule{Index: i, node: r}
		if pr := resolve(mapGet(r, "path_regex")); pr != nil && !isNull(pr) {
			rule.PathRegex = pr.Value
		}
		if st := resolve(mapGet(r, "shamir_threshold")); st != nil && !isNull(st) {
			if _, err := fmt.Sscan(st.Value, &rule.ShamirThreshold); err != nil {
				return nil, fmt.Errorf("creation rule %d: shamir_threshold is not a number", i+1)
			}
		}
		kg := resolve(mapGet(r, "key_groups"))
		if kg != nil && kg.Kind == yaml.SequenceNode && len(kg.Content) > 0 {
			rule.Grouped = true
			for _, g := range kg.Content {
				keys, err := groupKeys(g)
				if err != nil {
					return nil, fmt.Errorf("creation rule %d: %w", i+1, err)
				}
				rule.Groups = append(rule.Groups, keys)
			}
		} else {
			keys, err := ruleKeys(r)
			if err != nil {
				return nil, fmt.Errorf("creation rule %d: %w", i+1, err)
			}
			// sops makes one group even when it is empty.
			rule.Groups = [][]Key{keys}
		}
		out = append(out, rule)
	}
	return out, nil
}

// ruleKeys reads a rule's own key fields: each a string (comma list) or a
// list of strings, as sops's parseKeyField reads them.
func ruleKeys(r *yaml.Node) ([]Key, error) {
	var out []Key
	for _, t := range keyTypes {
		v := resolve(mapGet(r, ruleField(t)))
		if isNull(v) {
			continue
		}
		var parts []string
		switch v.Kind {
		case yaml.ScalarNode:
			parts = []string{v.Value}
		case yaml.SequenceNode:
			for _, it := range v.Content {
				it = resolve(it)
				if it.Kind != yaml.ScalarNode || isNull(it) {
					return nil, fmt.Errorf("%s: expected a string in the list", t)
				}
				parts = append(parts, it.Value)
			}
		default:
			return nil, fmt.Errorf("%s: expected a string or a list of strings", t)
		}
		for _, p := range strings.Split(strings.Join(parts, ","), ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, normKey(t, p))
			}
		}
	}
	return out, nil
}

// groupKeys reads one key group (a mapping, possibly with merge: groups).
func groupKeys(g *yaml.Node) ([]Key, error) {
	g = resolve(g)
	if isNull(g) {
		return nil, nil
	}
	if g.Kind != yaml.MappingNode {
		return nil, errors.New("a key group is not a mapping")
	}
	var out []Key
	if m := resolve(mapGet(g, "merge")); !isNull(m) {
		if m.Kind != yaml.SequenceNode {
			return nil, errors.New("merge: is not a list of key groups")
		}
		for _, sub := range m.Content {
			keys, err := groupKeys(sub)
			if err != nil {
				return nil, err
			}
			out = append(out, keys...)
		}
	}
	for _, t := range keyTypes {
		v := resolve(mapGet(g, t))
		if isNull(v) {
			continue
		}
		if v.Kind != yaml.SequenceNode {
			return nil, fmt.Errorf("%s: in key_groups it must be a list", t)
		}
		for _, it := range v.Content {
			it = resolve(it)
			switch {
			case it.Kind == yaml.MappingNode:
				out = append(out, Key{Type: t, Value: mappingID(t, it)})
			case it.Kind != yaml.ScalarNode:
				return nil, fmt.Errorf("%s: expected a string in the list", t)
			case t == "age":
				// sops splits each entry of a group's age list on commas.
				for _, p := range strings.Split(it.Value, ",") {
					out = append(out, normKey(t, p))
				}
			default:
				out = append(out, normKey(t, it.Value))
			}
		}
	}
	// sops drops a key listed twice in one group.
	var dedup []Key
	for _, k := range out {
		if !slices.Contains(dedup, k) {
			dedup = append(dedup, k)
		}
	}
	return dedup, nil
}

// mappingID is how a key written as a mapping (kms: - arn: …) is named.
func mappingID(t string, m *yaml.Node) string {
	for _, f := range []string{"arn", "resource_id", "key_id", "vaultUrl"} {
		if v := resolve(mapGet(m, f)); v != nil && v.Kind == yaml.ScalarNode {
			if f == "vaultUrl" {
				if k := resolve(mapGet(m, "key")); k != nil {
					return v.Value + "/keys/" + k.Value
				}
			}
			return v.Value
		}
	}
	return t
}

// normKey writes a key value as sops keeps it: age recipients trimmed, pgp
// fingerprints without spaces.
func normKey(t, v string) Key {
	v = strings.TrimSpace(v)
	if t == "pgp" {
		v = strings.ReplaceAll(v, " ", "")
	}
	return Key{Type: t, Value: v}
}

// Rules returns the creation rules in order.
func (c *SopsConfig) Rules() []CreationRule { return slices.Clone(c.rules) }

// RulesFor returns the rule sops applies to path (relative to .sops.yaml's
// directory, slash-separated): the first whose path_regex matches, or a
// rule without path_regex. ok is false when none applies.
func (c *SopsConfig) RulesFor(rel string) (CreationRule, bool, error) {
	for _, r := range c.rules {
		if r.PathRegex == "" {
			return r, true, nil
		}
		re, err := regexp.Compile(r.PathRegex)
		if err != nil {
			return CreationRule{}, false, fmt.Errorf("%s: path_regex does not compile: %w", r.Label(), err)
		}
		if re.MatchString(rel) {
			return r, true, nil
		}
	}
	return CreationRule{}, false, nil
}

// RulesWith returns the indexes of the rules that list k.
func (c *SopsConfig) RulesWith(k Key) []int {
	var out []int
	for _, r := range c.rules {
		if r.GroupOf(k) >= 0 {
			out = append(out, r.Index)
		}
	}
	return out
}

// Name returns the anchor naming a key value (age recipient or pgp
// fingerprint), else the value itself.
func (c *SopsConfig) Name(value string) string {
	if n := c.nameOf(value); n != "" {
		return n
	}
	return value
}

// nameOf returns the first (sorted) anchor of a scalar holding value.
func (c *SopsConfig) nameOf(value string) string {
	var names []string
	for name, n := range c.anchors {
		if n.Kind == yaml.ScalarNode && (n.Value == value || strings.ReplaceAll(n.Value, " ", "") == value) {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		return ""
	}
	slices.Sort(names)
	return names[0]
}

// Anchor returns the key value held by anchor name.
func (c *SopsConfig) Anchor(name string) (string, bool) {
	n, ok := c.anchors[name]
	if !ok || n.Kind != yaml.ScalarNode {
		return "", false
	}
	return strings.TrimSpace(n.Value), true
}

// Rule is the creation rule sops applies to a file, for nixctl's crypto.
type Rule struct {
	// Recipients are the age recipients of every group.
	Recipients []string
	// Keys are all keys, every type, in group order.
	Keys   []Key
	Config *sopsconfig.Config
}

// RuleFor returns the creation rule sops would use for the absolute path
// file, with sops's own parser and matching (path_regex against the path
// relative to .sops.yaml's directory; the first match wins). Rules with
// non-age keys are returned too: callers that encrypt check AgeOnly.
func (c *SopsConfig) RuleFor(file string) (*Rule, error) {
	conf, err := sopsconfig.LoadCreationRuleForFile(c.Path, file, nil)
	if err != nil {
		rel := file
		if r, rerr := filepath.Rel(filepath.Dir(c.Path), file); rerr == nil {
			rel = filepath.ToSlash(r)
		}
		msg := strings.TrimPrefix(err.Error(), "error loading config: ")
		if strings.Contains(msg, "no matching creation rules") {
			msg = "no path_regex matches " + rel
		}
		return nil, fault.Newf(fault.Secrets, "add a creation rule whose path_regex matches it to "+c.Path, "%s: %s", filepath.Base(c.Path), msg)
	}
	if conf == nil {
		return nil, fault.Newf(fault.Secrets, "run 'nixctl secrets init' to add one", "%s has no creation_rules", c.Path)
	}
	rule := &Rule{Config: conf}
	for _, g := range conf.KeyGroups {
		for _, k := range g {
			key := keyOf(k)
			rule.Keys = append(rule.Keys, key)
			if key.Type == "age" {
				rule.Recipients = append(rule.Recipients, key.Value)
			}
		}
	}
	if len(rule.Keys) == 0 {
		return nil, fault.Newf(fault.Secrets, "add a recipient to the rule", "the creation rule for %s has no recipients", file)
	}
	return rule, nil
}

// AgeOnly refuses a rule nixctl cannot encrypt for by itself: pgp, cloud
// KMS and age plugin recipients need programs or services sops runs.
func (r *Rule) AgeOnly(file string) error {
	for _, k := range r.Keys {
		if k.Type != "age" {
			return fault.Newf(fault.Secrets, "use sops itself for such files (nixctl encrypts for age recipients only)", "the creation rule for %s has a %s key (%s)", filepath.Base(file), k.Type, shortKey(k.Value))
		}
		if isPluginRecipient(k.Value) {
			// age would run an age-plugin-* program to encrypt for it;
			// nixctl starts processes only through its runner.
			return fault.Newf(fault.Secrets, "use sops itself for files with plugin recipients", "the creation rule for %s has an age plugin recipient (%s…), which nixctl does not run", filepath.Base(file), k.Value[:min(16, len(k.Value))])
		}
	}
	return nil
}

func shortKey(v string) string {
	if len(v) > 20 {
		return v[:16] + "…"
	}
	return v
}

// keyOf names a sops master key as .sops.yaml does.
func keyOf(k interface {
	TypeToIdentifier() string
	ToString() string
}) Key {
	if ak, ok := k.(*sopsage.MasterKey); ok {
		return Key{Type: "age", Value: ak.Recipient}
	}
	t := k.TypeToIdentifier()
	if t == "azure_kv" {
		t = "azure_keyvault"
	}
	return Key{Type: t, Value: k.ToString()}
}

// isPluginRecipient tells an age plugin recipient (age1<plugin>1…) from a
// native X25519 one (age1…) and a post-quantum hybrid one (age1pq1…), as
// sops's age key source does.
func isPluginRecipient(r string) bool {
	return strings.HasPrefix(r, "age1") && !strings.HasPrefix(r, "age1pq1") && strings.Count(r, "1") > 1
}

// InitialSopsConfig is the .sops.yaml `secrets init` writes: the user's
// recipient under an anchor named after them, one rule for the secrets
// directory. secretsRel is the secrets directory relative to .sops.yaml's
// own directory, which is what sops matches path_regex against.
func InitialSopsConfig(name, recipient, secretsRel string) []byte {
	regex := "^" + regexp.QuoteMeta(filepath.ToSlash(secretsRel)) + "/"
	if secretsRel == "." {
		regex = ".*"
	}
	return []byte(fmt.Sprintf(`# sops configuration: who can read the secrets (nixctl secrets list shows them).
# nixctl secrets add-host HOST adds a host's key here and rekeys the files.
keys:
  - &%[1]s %[2]s
creation_rules:
  - path_regex: %[3]s
    key_groups:
      - age:
          - *%[1]s
`, name, recipient, regex))
}

var anchorName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)

// CheckAnchorName refuses names YAML would not take as a plain anchor.
func CheckAnchorName(name string) error {
	if !anchorName.MatchString(name) {
		return fault.Usagef("use letters, digits, '.', '_' and '-'", "%q cannot name a key in .sops.yaml", name)
	}
	return nil
}
