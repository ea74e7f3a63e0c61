package secrets

import (
	"bytes"
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

	"github.com/nixctl/nixctl/internal/exitcode"
)

// SopsConfig is .sops.yaml: sops reads its creation rules; nixctl also reads
// the anchors that name recipients (keys: - &gabriel age1…) and edits the
// file line by line, so comments and layout stay as the user wrote them.
type SopsConfig struct {
	Path string
	Data []byte
	doc  *yaml.Node
	// anchors maps anchor names to the age recipients they hold.
	anchors map[string]string
}

// ErrNoSopsConfig is returned when .sops.yaml does not exist.
var ErrNoSopsConfig = errors.New(".sops.yaml not found")

func missingSopsConfig(path string) error {
	return exitcode.New(exitcode.Secrets, fmt.Errorf("%s: %w", path, ErrNoSopsConfig), "run 'nixctl secrets init' to create it")
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
	return parseSopsConfig(path, data)
}

func parseSopsConfig(path string, data []byte) (*SopsConfig, error) {
	c := &SopsConfig{Path: path, Data: data, anchors: map[string]string{}}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, exitcode.Newf(exitcode.Secrets, "fix the YAML syntax of "+path, "%s: %v", path, err)
	}
	if len(doc.Content) == 0 {
		doc = yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{{Kind: yaml.MappingNode, Tag: "!!map"}}}
	}
	if doc.Content[0].Kind != yaml.MappingNode {
		return nil, exitcode.Newf(exitcode.Secrets, "a .sops.yaml is a mapping with creation_rules", "%s is not a YAML mapping", path)
	}
	c.doc = &doc
	walk(&doc, func(n *yaml.Node) {
		if n.Kind == yaml.ScalarNode && n.Anchor != "" && strings.HasPrefix(n.Value, "age1") {
			c.anchors[n.Anchor] = n.Value
		}
	})
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

// Name returns the anchor naming recipient, or a shortened recipient.
func (c *SopsConfig) Name(recipient string) string {
	names := make([]string, 0, len(c.anchors))
	for name, r := range c.anchors {
		if r == recipient {
			names = append(names, name)
		}
	}
	if len(names) > 0 {
		slices.Sort(names)
		return names[0]
	}
	if len(recipient) > 16 {
		return recipient[:12] + "…" + recipient[len(recipient)-4:]
	}
	return recipient
}

// Anchor returns the recipient held by anchor name.
func (c *SopsConfig) Anchor(name string) (string, bool) {
	r, ok := c.anchors[name]
	return r, ok
}

// Rule is the creation rule sops applies to a file.
type Rule struct {
	Recipients []string
	Config     *sopsconfig.Config
}

// RuleFor returns the creation rule sops would use for the absolute path
// file, with sops's own matching (path_regex against the path relative to
// .sops.yaml's directory; the first match wins).
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
		return nil, exitcode.Newf(exitcode.Secrets, "add a creation rule whose path_regex matches it to "+c.Path, "%s: %s", filepath.Base(c.Path), msg)
	}
	if conf == nil {
		return nil, exitcode.Newf(exitcode.Secrets, "run 'nixctl secrets init' to add one", "%s has no creation_rules", c.Path)
	}
	rule := &Rule{Config: conf}
	for _, g := range conf.KeyGroups {
		for _, k := range g {
			ak, ok := k.(*sopsage.MasterKey)
			if !ok {
				return nil, exitcode.Newf(exitcode.Secrets, "use sops itself for such files", "the creation rule for %s has a %s key: %v", file, k.TypeToIdentifier(), errNotAge)
			}
			if isPluginRecipient(ak.Recipient) {
				// age would run an age-plugin-* program to encrypt for it;
				// nixctl starts processes only through its runner.
				return nil, exitcode.Newf(exitcode.Secrets, "use sops itself for files with plugin recipients", "the creation rule for %s has an age plugin recipient (%s…), which nixctl does not run", filepath.Base(file), ak.Recipient[:min(16, len(ak.Recipient))])
			}
			rule.Recipients = append(rule.Recipients, ak.Recipient)
		}
	}
	if len(rule.Recipients) == 0 {
		return nil, exitcode.Newf(exitcode.Secrets, "add an age recipient to the rule", "the creation rule for %s has no recipients", file)
	}
	return rule, nil
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
		return exitcode.UsageErrorf("use letters, digits, '.', '_' and '-'", "%q cannot name a key in .sops.yaml", name)
	}
	return nil
}

func (c *SopsConfig) top() *yaml.Node { return c.doc.Content[0] }

func mapGet(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

// rules returns the creation rules, filtered by exact path_regex when
// pathRegex is not empty.
func (c *SopsConfig) rules(pathRegex string) []*yaml.Node {
	seq := mapGet(c.top(), "creation_rules")
	if seq == nil || seq.Kind != yaml.SequenceNode {
		return nil
	}
	var out []*yaml.Node
	for _, r := range seq.Content {
		if r.Kind != yaml.MappingNode {
			continue
		}
		if pathRegex != "" {
			if pr := mapGet(r, "path_regex"); pr == nil || pr.Value != pathRegex {
				continue
			}
		}
		out = append(out, r)
	}
	return out
}

// ageList returns the node that lists a rule's age recipients: the first key
// group's age:, else the rule's own age: (a sequence or a comma list).
func ageList(rule *yaml.Node) *yaml.Node {
	if kg := mapGet(rule, "key_groups"); kg != nil && kg.Kind == yaml.SequenceNode && len(kg.Content) > 0 {
		return mapGet(kg.Content[0], "age")
	}
	return mapGet(rule, "age")
}

// allAgeLists returns every age list of a rule (all key groups).
func allAgeLists(rule *yaml.Node) []*yaml.Node {
	var out []*yaml.Node
	if kg := mapGet(rule, "key_groups"); kg != nil && kg.Kind == yaml.SequenceNode {
		for _, g := range kg.Content {
			if a := mapGet(g, "age"); a != nil {
				out = append(out, a)
			}
		}
	}
	if a := mapGet(rule, "age"); a != nil {
		out = append(out, a)
	}
	return out
}

func listHas(list *yaml.Node, recipient string) bool {
	switch list.Kind {
	case yaml.SequenceNode:
		for _, it := range list.Content {
			if resolve(it).Value == recipient {
				return true
			}
		}
	case yaml.ScalarNode:
		for _, r := range strings.Split(list.Value, ",") {
			if strings.TrimSpace(r) == recipient {
				return true
			}
		}
	}
	return false
}

// AddRecipient records recipient under anchor name in keys: and adds it to
// every creation rule (or those whose path_regex is exactly pathRegex). It
// reports whether the file changed.
func (c *SopsConfig) AddRecipient(name, recipient, pathRegex string) (bool, error) {
	if err := CheckAnchorName(name); err != nil {
		return false, err
	}
	if old, ok := c.anchors[name]; ok && old != recipient {
		return false, exitcode.Newf(exitcode.Secrets, "remove it first (nixctl secrets remove-host "+name+"), or pick another name", "%s already names another key in %s", name, c.Path)
	}
	if len(c.rules(pathRegex)) == 0 {
		if pathRegex != "" {
			return false, exitcode.UsageErrorf("pass a path_regex exactly as .sops.yaml writes it", "no creation rule has path_regex %q", pathRegex)
		}
		return false, exitcode.Newf(exitcode.Secrets, "run 'nixctl secrets init' first", "%s has no creation_rules", c.Path)
	}
	changed := false
	alias := name
	if _, ok := c.anchors[name]; !ok {
		if other := c.nameOf(recipient); other != "" {
			alias = other
		} else {
			if err := c.addKey(name, recipient); err != nil {
				return false, err
			}
			changed = true
		}
	}
	// Each pass adds the key to one rule (and re-parses the file): more
	// passes than rules means an edit did not take.
	for pass := 0; ; pass++ {
		if pass > len(c.rules(pathRegex)) {
			return changed, exitcode.Newf(exitcode.Secrets, "add it by hand, or fix the rule's layout (key_groups: a list of mappings with age: lists)",
				"%s: could not add %s to every creation rule", c.Path, name)
		}
		var missing *yaml.Node
		for _, r := range c.rules(pathRegex) {
			if l := ageList(r); l == nil || !listHas(l, recipient) {
				missing = r
				break
			}
		}
		if missing == nil {
			return changed, nil
		}
		if err := c.addToRule(missing, alias, recipient); err != nil {
			return changed, err
		}
		changed = true
	}
}

func (c *SopsConfig) nameOf(recipient string) string {
	for n, r := range c.anchors {
		if r == recipient {
			return n
		}
	}
	return ""
}

// RemoveRecipient drops anchor name from keys: and every rule. It returns the
// recipient it held.
func (c *SopsConfig) RemoveRecipient(name string) (string, error) {
	recipient, ok := c.anchors[name]
	if !ok {
		return "", exitcode.Newf(exitcode.Usage, "'nixctl secrets list' shows the names in use", "%s names no key in %s", name, c.Path)
	}
	for {
		var list *yaml.Node
		var item int
		for _, r := range c.rules("") {
			for _, l := range allAgeLists(r) {
				if l.Kind == yaml.SequenceNode {
					for i, it := range l.Content {
						if resolve(it).Value == recipient {
							list, item = l, i
						}
					}
				} else if listHas(l, recipient) {
					list, item = l, -1
				}
			}
		}
		if list == nil {
			break
		}
		if err := c.removeFromList(list, item, recipient); err != nil {
			return "", err
		}
	}
	keys := mapGet(c.top(), "keys")
	for keys != nil && keys.Kind == yaml.SequenceNode {
		idx := slices.IndexFunc(keys.Content, func(n *yaml.Node) bool { return n.Anchor == name })
		if idx < 0 {
			break
		}
		if err := c.removeFromList(keys, idx, recipient); err != nil {
			return "", err
		}
		keys = mapGet(c.top(), "keys")
	}
	if _, still := c.anchors[name]; still {
		return "", fmt.Errorf("%s: could not remove the anchor %s", c.Path, name)
	}
	return recipient, nil
}

// Empty lists the creation rules (by path_regex) that have no age recipient.
func (c *SopsConfig) emptyRules() []string {
	var out []string
	for _, r := range c.rules("") {
		n := 0
		for _, l := range allAgeLists(r) {
			if l.Kind == yaml.SequenceNode {
				n += len(l.Content)
			} else if strings.TrimSpace(l.Value) != "" {
				n++
			}
		}
		if n == 0 {
			pr := "(no path_regex)"
			if p := mapGet(r, "path_regex"); p != nil {
				pr = p.Value
			}
			out = append(out, pr)
		}
	}
	return out
}

func (c *SopsConfig) addKey(name, recipient string) error {
	keys := mapGet(c.top(), "keys")
	if keys != nil && c.canAppendLine(keys) {
		return c.appendLine(keys, "&"+name+" "+recipient)
	}
	anchor := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: recipient, Anchor: name}
	if keys == nil {
		top := c.top()
		keys = &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		top.Content = append([]*yaml.Node{{Kind: yaml.ScalarNode, Tag: "!!str", Value: "keys"}, keys}, top.Content...)
	}
	if keys.Kind != yaml.SequenceNode {
		return exitcode.Newf(exitcode.Secrets, "make keys: a list of anchored recipients", "%s: keys: is not a list", c.Path)
	}
	keys.Content = append(keys.Content, anchor)
	return c.reencode()
}

func (c *SopsConfig) addToRule(rule *yaml.Node, alias, recipient string) error {
	list := ageList(rule)
	if list != nil && c.canAppendLine(list) {
		return c.appendLine(list, "*"+alias)
	}
	anchor := c.anchorNode(alias)
	item := &yaml.Node{Kind: yaml.AliasNode, Value: alias, Alias: anchor}
	switch {
	case list == nil:
		target := rule
		if kg := mapGet(rule, "key_groups"); kg != nil && kg.Kind == yaml.SequenceNode && len(kg.Content) > 0 {
			target = kg.Content[0]
		}
		if target.Kind != yaml.MappingNode {
			return exitcode.Newf(exitcode.Secrets, "make each key group a mapping with an age: list", "%s: a rule's key group is not a mapping", c.Path)
		}
		target.Content = append(target.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: "age"},
			&yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Content: []*yaml.Node{item}})
	case list.Kind == yaml.SequenceNode:
		list.Content = append(list.Content, item)
	case list.Kind == yaml.ScalarNode:
		if strings.TrimSpace(list.Value) == "" {
			list.Value = recipient
		} else {
			list.Value = strings.TrimRight(list.Value, ", ") + "," + recipient
		}
	default:
		return exitcode.Newf(exitcode.Secrets, "make age: a list", "%s: a rule's age: is neither a list nor a string", c.Path)
	}
	return c.reencode()
}

func (c *SopsConfig) anchorNode(name string) *yaml.Node {
	var found *yaml.Node
	walk(c.doc, func(n *yaml.Node) {
		if n.Anchor == name && found == nil {
			found = n
		}
	})
	return found
}

func (c *SopsConfig) removeFromList(list *yaml.Node, item int, recipient string) error {
	if item >= 0 && c.isOwnLine(list, item) {
		return c.setData(deleteLine(c.Data, list.Content[item].Line))
	}
	if item >= 0 {
		list.Content = slices.Delete(list.Content, item, item+1)
	} else {
		var keep []string
		for _, r := range strings.Split(list.Value, ",") {
			if r = strings.TrimSpace(r); r != "" && r != recipient {
				keep = append(keep, r)
			}
		}
		list.Value = strings.Join(keep, ",")
	}
	return c.reencode()
}

// canAppendLine: a block sequence whose last item sits alone on its line, so
// a new item can be written as a copy of that line's indentation.
func (c *SopsConfig) canAppendLine(seq *yaml.Node) bool {
	if seq.Kind != yaml.SequenceNode || seq.Style&yaml.FlowStyle != 0 || len(seq.Content) == 0 {
		return false
	}
	return c.isOwnLine(seq, len(seq.Content)-1)
}

func (c *SopsConfig) isOwnLine(seq *yaml.Node, i int) bool {
	if seq.Kind != yaml.SequenceNode || seq.Style&yaml.FlowStyle != 0 {
		return false
	}
	it := seq.Content[i]
	if it.Kind != yaml.ScalarNode && it.Kind != yaml.AliasNode {
		return false
	}
	if it.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
		return false
	}
	for j, other := range seq.Content {
		if j != i && other.Line == it.Line {
			return false
		}
	}
	if i+1 < len(seq.Content) && seq.Content[i+1].Line != it.Line+1 {
		// The item continues on the next lines (a multi-line scalar).
		return false
	}
	_, ok := c.dashPrefix(it)
	return ok
}

// dashPrefix is the text before an item's value on its line: "  - ".
func (c *SopsConfig) dashPrefix(it *yaml.Node) (string, bool) {
	lines := strings.Split(string(c.Data), "\n")
	if it.Line < 1 || it.Line > len(lines) {
		return "", false
	}
	line := lines[it.Line-1]
	col := it.Column - 1
	if it.Anchor != "" {
		// The column of an anchored scalar is the anchor's "&".
		col = strings.Index(line, "&"+it.Anchor)
	}
	if col < 2 || col > len(line) {
		return "", false
	}
	prefix := line[:col]
	if strings.TrimSpace(prefix) != "-" {
		return "", false
	}
	return prefix, true
}

func (c *SopsConfig) appendLine(seq *yaml.Node, value string) error {
	last := seq.Content[len(seq.Content)-1]
	prefix, _ := c.dashPrefix(last)
	return c.setData(insertAfter(c.Data, last.Line, prefix+value))
}

func insertAfter(data []byte, line int, text string) []byte {
	lines := strings.SplitAfter(string(data), "\n")
	var b bytes.Buffer
	for i, l := range lines {
		b.WriteString(l)
		if i == line-1 {
			if !strings.HasSuffix(l, "\n") {
				b.WriteString("\n")
			}
			b.WriteString(text + "\n")
		}
	}
	return b.Bytes()
}

func deleteLine(data []byte, line int) []byte {
	lines := strings.SplitAfter(string(data), "\n")
	if line >= 1 && line <= len(lines) {
		lines = slices.Delete(lines, line-1, line)
	}
	return []byte(strings.Join(lines, ""))
}

func (c *SopsConfig) setData(data []byte) error {
	n, err := parseSopsConfig(c.Path, data)
	if err != nil {
		return fmt.Errorf("editing %s produced invalid YAML: %w", c.Path, err)
	}
	*c = *n
	return nil
}

// reencode writes the node tree back with yaml.v3 (comments kept, layout
// normalised) when a line edit cannot express the change.
func (c *SopsConfig) reencode() error {
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(c.doc); err != nil {
		return err
	}
	if err := enc.Close(); err != nil {
		return err
	}
	return c.setData(b.Bytes())
}
