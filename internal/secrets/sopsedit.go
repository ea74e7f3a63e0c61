package secrets

import (
	"bytes"
	"fmt"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/nixctl/nixctl/internal/fault"
)

// RuleSelector picks the creation rules an edit applies to.
type RuleSelector func(CreationRule) bool

// EveryRule selects every creation rule.
func EveryRule() RuleSelector { return func(CreationRule) bool { return true } }

// RuleWithRegex selects the rules whose path_regex is exactly re.
func RuleWithRegex(re string) RuleSelector {
	return func(r CreationRule) bool { return r.PathRegex == re }
}

// RuleIndexes selects rules by their 0-based index.
func RuleIndexes(idx ...int) RuleSelector {
	return func(r CreationRule) bool { return slices.Contains(idx, r.Index) }
}

// NewRecipient is a key to add under an anchor name.
type NewRecipient struct {
	// Name is the anchor the key gets in keys: (&Name).
	Name string
	Key  Key
	// Group is the key group joined in rules with key_groups; -1 picks the
	// first group that already lists keys of the same type, else the first.
	Group int
	// KeysList names the nested keys: list (the `- &hosts:` of a grouped
	// layout) the anchor goes in when there is one by that name; otherwise
	// the last one holding keys of the same type.
	KeysList string
}

// GroupJoin says where an added key landed in a rule with key groups.
type GroupJoin struct {
	Rule     CreationRule
	Group    int
	Groups   int
	Required int
	// Alone is true when the key can decrypt the rule's files by itself.
	Alone bool
}

// Edit is one change of .sops.yaml, not yet written: the file before and
// after, the rules whose keys changed, and notes on how it was done when
// that is not plain (a shared anchor kept, a key group chosen).
type Edit struct {
	Before, After *SopsConfig
	Rules         []int
	Joins         []GroupJoin
	Notes         []string
}

// Changed reports whether the file's bytes change.
func (e *Edit) Changed() bool { return !bytes.Equal(e.Before.Data, e.After.Data) }

// Data is the new content of .sops.yaml.
func (e *Edit) Data() []byte { return e.After.Data }

// Empty lists the rules the edit leaves without any key.
func (e *Edit) Empty() []CreationRule {
	var out []CreationRule
	for _, r := range e.After.rules {
		if len(r.Keys()) == 0 && slices.Contains(e.Rules, r.Index) {
			out = append(out, r)
		}
	}
	return out
}

func (c *SopsConfig) clone() *SopsConfig { n := *c; return &n }

func (c *SopsConfig) selected(sel RuleSelector) []int {
	var out []int
	for _, r := range c.rules {
		if sel(r) {
			out = append(out, r.Index)
		}
	}
	return out
}

// AddRecipient adds a key to the selected rules. The key is recorded once
// under its anchor in keys: (where the other keys of its type are) and
// referenced as *Name in each rule; a key already anchored keeps its name.
// A list shared through an anchor is extended only when every rule using it
// is selected; otherwise the selected rule gets its own explicit list and
// the anchor is left as it was (a note says so).
func (c *SopsConfig) AddRecipient(sel RuleSelector, nr NewRecipient) (*Edit, error) {
	if nr.Key.Type == "" {
		nr.Key.Type = "age"
	}
	k := normKey(nr.Key.Type, nr.Key.Value)
	if k.Type != "age" && k.Type != "pgp" {
		return nil, fault.Usagef("add age or pgp keys", "nixctl adds age and pgp keys only, not %s", k.Type)
	}
	if err := CheckAnchorName(nr.Name); err != nil {
		return nil, err
	}
	e := &Edit{Before: c, After: c}
	targets := c.selected(sel)
	if len(targets) == 0 {
		if len(c.rules) == 0 {
			return nil, fault.Newf(fault.Secrets, "run 'nixctl secrets init' first", "%s has no creation_rules", c.Path)
		}
		return nil, fault.Usagef("pass a path_regex exactly as .sops.yaml writes it ('nixctl secrets list' shows the rules)", "no creation rule matches the selection")
	}
	token := ""
	if name := c.nameOf(k.Value); name != "" {
		token = "*" + name
		if name != nr.Name {
			e.Notes = append(e.Notes, fmt.Sprintf("the key is already named &%s in %s: the rules refer to it by that name", name, c.baseName()))
		}
	} else if n, taken := c.anchors[nr.Name]; taken {
		return nil, fault.Newf(fault.Secrets, "remove it first, or pick another name", "&%s already names %s in %s", nr.Name, describeNode(n), c.baseName())
	}
	var need []int
	for _, i := range targets {
		if c.rules[i].GroupOf(k) < 0 {
			need = append(need, i)
		}
	}
	if len(need) == 0 {
		return e, nil
	}
	cur := c.clone()
	if token == "" {
		ok, err := cur.addKeysEntry(nr.Name, k, nr.KeysList)
		if err != nil {
			return nil, err
		}
		if ok {
			token = "*" + nr.Name
		} else {
			token = yamlWord(k.Value)
			e.Notes = append(e.Notes, fmt.Sprintf("keys: is not a list in %s: the key is written in the rules as it is, without a name", c.baseName()))
		}
	}
	groups := map[int]int{}
	for _, i := range need {
		r := cur.rules[i]
		if r.GroupOf(k) >= 0 {
			// A list shared with an earlier rule of the selection gave it
			// the key already.
			groups[i] = r.GroupOf(k)
			continue
		}
		g := -1
		if r.Grouped {
			g = pickGroup(r, k.Type, nr.Group)
			if g < 0 {
				return nil, fault.Usagef(fmt.Sprintf("%s has %d key groups (0 to %d)", r.Label(), len(r.Groups), len(r.Groups)-1), "no key group %d", nr.Group)
			}
		}
		groups[i] = g
		note, err := cur.addToSlot(i, g, k, token, targets)
		if err != nil {
			return nil, err
		}
		if note != "" {
			e.Notes = append(e.Notes, note)
		}
	}
	// The result must read as meant: the key in the chosen group of each
	// rule that needed it, every other rule and group as before.
	want := c.Rules()
	for _, i := range need {
		g := max(groups[i], 0)
		want[i].Groups = slices.Clone(want[i].Groups)
		want[i].Groups[g] = append(slices.Clone(want[i].Groups[g]), k)
	}
	if err := sameRules(want, cur.rules); err != nil {
		return nil, fault.Newf(fault.Secrets, "add the key by hand, then run 'nixctl secrets rekey'", "%s: the edit would not mean what was asked (%v)", c.baseName(), err)
	}
	e.After, e.Rules = cur, need
	for _, i := range need {
		r := cur.rules[i]
		if len(r.Groups) > 1 {
			e.Joins = append(e.Joins, GroupJoin{Rule: r, Group: max(groups[i], 0), Groups: len(r.Groups), Required: r.Required(), Alone: r.CanDecryptAlone(k)})
		}
	}
	return e, nil
}

func (c *SopsConfig) baseName() string {
	if c.Path == "" {
		return ".sops.yaml"
	}
	return c.Path
}

func describeNode(n *yaml.Node) string {
	if n.Kind == yaml.ScalarNode {
		return shortKey(n.Value)
	}
	return "a list"
}

// pickGroup chooses the key group a new key of type t joins.
func pickGroup(r CreationRule, t string, asked int) int {
	if asked >= 0 {
		if asked >= len(r.Groups) {
			return -1
		}
		return asked
	}
	kg := resolve(mapGet(r.node, "key_groups"))
	for i, g := range kg.Content {
		if mapGet(g, t) != nil {
			return i
		}
	}
	return 0
}

// owner returns the mapping that holds rule i's keys of group g (-1: the
// rule itself).
func (c *SopsConfig) owner(i, g int) (*yaml.Node, error) {
	r := c.rules[i]
	if g < 0 {
		return r.node, nil
	}
	kg := mapGet(r.node, "key_groups")
	if kg.Kind == yaml.AliasNode || kg.Content[g].Kind == yaml.AliasNode {
		return nil, fault.Newf(fault.Secrets, "write that key group out in the rule, or edit it by hand", "%s: its key groups come from an alias, which other rules may share", r.Label())
	}
	return kg.Content[g], nil
}

// addToSlot adds token to the list of k.Type in rule i, group g.
func (c *SopsConfig) addToSlot(i, g int, k Key, token string, selected []int) (string, error) {
	owner, err := c.owner(i, g)
	if err != nil {
		return "", err
	}
	field := k.Type
	if g < 0 {
		field = ruleField(k.Type)
	}
	label := c.rules[i].Label()
	key, v := mapEntry(owner, field)
	switch {
	case v == nil:
		return "", c.insertField(owner, field, token)
	case v.Kind == yaml.AliasNode:
		a := v.Alias
		if a.Kind == yaml.SequenceNode && c.sharedWithin(a, selected) {
			return "", c.appendItem(a, token)
		}
		items, err := c.items(a)
		if err != nil {
			return "", err
		}
		s, e, err := c.span(v)
		if err != nil {
			return "", err
		}
		others := c.otherUsers(a, i)
		if err := c.splice(s, e, "["+strings.Join(append(items, token), ", ")+"]"); err != nil {
			return "", err
		}
		return fmt.Sprintf("%s: %s: *%s is shared (%s); that rule now lists its keys itself and &%s is unchanged", label, field, v.Value, others, v.Value), nil
	case isNull(v):
		if v.Value == "" {
			return "", c.fillNull(key, token)
		}
		s, e, err := c.span(v)
		if err != nil {
			return "", err
		}
		return "", c.splice(s, e, "["+token+"]")
	case v.Kind == yaml.ScalarNode:
		s, e, err := c.span(v)
		if err != nil {
			return "", fault.Newf(fault.Secrets, "write "+field+": as a list", "%s: %s: is written in a way nixctl does not edit", label, field)
		}
		if v.Anchor != "" && c.aliasCount(v) > 0 && (!c.sharedWithin(v, selected) || !c.onlyIn(v, k.Type)) {
			// Widening the anchored value would widen every rule using it.
			text := string(c.Data[s:e])
			if err := c.splice(s, e, "["+text+", "+token+"]"); err != nil {
				return "", err
			}
			return fmt.Sprintf("%s: %s: &%s is shared (%s); it stays as it was and that rule's %s: became a list", label, field, v.Anchor, c.otherUsers(v, i), field), nil
		}
		// A comma list cannot hold an alias: it gets the value itself.
		value := k.Value
		sep := ","
		if strings.Contains(v.Value, ", ") {
			sep = ", "
		}
		if strings.TrimSpace(v.Value) == "" {
			sep = ""
		}
		if v.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0 {
			return "", c.splice(e-1, e-1, sep+value)
		}
		return "", c.splice(e, e, sep+value)
	case v.Kind == yaml.SequenceNode:
		if v.Anchor != "" && c.aliasCount(v) > 0 && !c.sharedWithin(v, selected) {
			return "", fault.Newf(fault.Secrets, "move the list to keys: and refer to it with *"+v.Anchor+" in each rule, or select those rules too",
				"%s: its %s: list is the anchor &%s, also used by %s: adding to it would give them the key too", label, field, v.Anchor, c.otherUsers(v, i))
		}
		return "", c.appendItem(v, token)
	}
	return "", fault.Newf(fault.Secrets, "write "+field+": as a list", "%s: %s: is neither a list nor a string", label, field)
}

// insertField adds "field: [token]" (block style: a field line and an item
// line) to a mapping.
func (c *SopsConfig) insertField(owner *yaml.Node, field, token string) error {
	if owner.Style&yaml.FlowStyle != 0 || len(owner.Content) == 0 {
		return c.insertFlow(owner, field+": ["+token+"]")
	}
	ind := strings.Repeat(" ", owner.Content[0].Column-1)
	return c.insertLines(endLine(owner), ind+field+":", ind+"  - "+token)
}

// fillNull writes " [token]" after "field:" when the field has no value.
func (c *SopsConfig) fillNull(key *yaml.Node, token string) error {
	_, e, err := c.span(key)
	if err != nil {
		return err
	}
	rest := string(c.Data[e:c.text().LineEnd(key.Line)])
	colon := strings.IndexByte(rest, ':')
	if colon < 0 {
		return errNoSpan
	}
	at := e + colon + 1
	return c.splice(at, at, " ["+token+"]")
}

// insertFlow puts item before the closing bracket of a flow collection.
func (c *SopsConfig) insertFlow(n *yaml.Node, item string) error {
	open := c.text().Offset(n.Line, n.Column)
	closing, err := c.flowClose(open)
	if err != nil {
		return err
	}
	inner := strings.TrimRight(string(c.Data[open+1:closing]), " \t\r\n")
	at := open + 1 + len(inner)
	switch {
	case strings.TrimSpace(inner) == "":
		return c.splice(at, at, item)
	case strings.HasSuffix(inner, ","):
		return c.splice(at, at, " "+item)
	}
	return c.splice(at, at, ", "+item)
}

// appendItem adds token as the last item of a sequence, on its own line
// indented like the others for a block sequence.
func (c *SopsConfig) appendItem(seq *yaml.Node, token string) error {
	if seq.Style&yaml.FlowStyle != 0 || len(seq.Content) == 0 {
		return c.insertFlow(seq, token)
	}
	last := seq.Content[len(seq.Content)-1]
	return c.insertLines(endLine(last), strings.Repeat(" ", seq.Column-1)+"- "+token)
}

// items renders the entries of an aliased value for an explicit flow list:
// anchored entries by alias, so no anchor is defined twice.
func (c *SopsConfig) items(a *yaml.Node) ([]string, error) {
	ref := func(n *yaml.Node) (string, error) {
		switch {
		case n.Kind == yaml.AliasNode:
			return "*" + n.Value, nil
		case n.Kind == yaml.ScalarNode && n.Anchor != "":
			return "*" + n.Anchor, nil
		case n.Kind == yaml.ScalarNode:
			return yamlWord(n.Value), nil
		}
		return "", fault.Newf(fault.Secrets, "edit it by hand", "a key list holds something other than strings")
	}
	if a.Kind == yaml.SequenceNode {
		var out []string
		for _, it := range a.Content {
			s, err := ref(it)
			if err != nil {
				return nil, err
			}
			out = append(out, s)
		}
		return out, nil
	}
	s, err := ref(a)
	return []string{s}, err
}

// aliasCount counts the aliases of node n in the whole file.
func (c *SopsConfig) aliasCount(n *yaml.Node) int {
	count := 0
	walk(c.doc, func(x *yaml.Node) {
		if x.Kind == yaml.AliasNode && x.Alias == n {
			count++
		}
	})
	return count
}

// refs calls f for each rule field that reaches node n (as the value or a
// list item, directly or through an alias).
func (c *SopsConfig) refs(n *yaml.Node, f func(rule int, field string)) {
	hit := func(x *yaml.Node) bool { return x == n || (x.Kind == yaml.AliasNode && x.Alias == n) }
	for _, r := range c.rules {
		owners := []*yaml.Node{r.node}
		if kg := resolve(mapGet(r.node, "key_groups")); kg != nil && kg.Kind == yaml.SequenceNode {
			owners = append(owners, kg.Content...)
		}
		for _, o := range owners {
			o = resolve(o)
			if o == nil || o.Kind != yaml.MappingNode {
				continue
			}
			for j := 1; j < len(o.Content); j += 2 {
				v := o.Content[j]
				found := hit(v)
				if rv := resolve(v); !found && rv != nil && rv.Kind == yaml.SequenceNode {
					found = slices.ContainsFunc(rv.Content, hit)
				}
				if found {
					f(r.Index, o.Content[j-1].Value)
				}
			}
		}
	}
}

// users returns the rules whose keys reach node n, and whether n is also
// used somewhere else than creation rules and keys:.
func (c *SopsConfig) users(n *yaml.Node) (rules []int, elsewhere bool) {
	count := 0
	c.refs(n, func(rule int, _ string) {
		count++
		if !slices.Contains(rules, rule) {
			rules = append(rules, rule)
		}
	})
	if keys := mapGet(c.top(), "keys"); keys != nil {
		walk(keys, func(x *yaml.Node) {
			if x == n || (x.Kind == yaml.AliasNode && x.Alias == n) {
				count++
			}
		})
	}
	return rules, count < c.aliasCount(n)+1
}

// onlyIn reports whether every rule field reaching n is a field of key
// type t: a value shared between age: and pgp: must not change.
func (c *SopsConfig) onlyIn(n *yaml.Node, t string) bool {
	ok := true
	c.refs(n, func(_ int, field string) {
		if field != t && field != ruleField(t) {
			ok = false
		}
	})
	return ok
}

// sharedWithin reports whether every rule using n is among selected.
func (c *SopsConfig) sharedWithin(n *yaml.Node, selected []int) bool {
	rules, elsewhere := c.users(n)
	if elsewhere {
		return false
	}
	for _, r := range rules {
		if !slices.Contains(selected, r) {
			return false
		}
	}
	return true
}

// otherUsers names the rules other than i that use n.
func (c *SopsConfig) otherUsers(n *yaml.Node, i int) string {
	rules, elsewhere := c.users(n)
	var names []string
	for _, r := range rules {
		if r != i {
			names = append(names, fmt.Sprintf("rule %d", r+1))
		}
	}
	if elsewhere {
		names = append(names, "other places")
	}
	if len(names) == 0 {
		return "by nothing else"
	}
	return "also used by " + strings.Join(names, ", ")
}

// addKeysEntry records "&name value" in keys:. It returns false when keys:
// is there but not a list nixctl can extend.
func (c *SopsConfig) addKeysEntry(name string, k Key, list string) (bool, error) {
	key, keys := mapEntry(c.top(), "keys")
	if key == nil {
		// No keys: yet: start one just above creation_rules.
		ck, _ := mapEntry(c.top(), "creation_rules")
		if ck == nil {
			return false, nil
		}
		ind := strings.Repeat(" ", ck.Column-1)
		at := c.text().LineStart(ck.Line)
		return true, c.splice(at, at, ind+"keys:"+c.eol+ind+"  - &"+name+" "+yamlWord(k.Value)+c.eol)
	}
	if keys.Kind != yaml.SequenceNode {
		return false, nil
	}
	target := keys
	// A grouped layout: "- &hosts:" followed by a list of anchors.
	var nested []*yaml.Node
	var named *yaml.Node
	for _, it := range keys.Content {
		if it.Kind == yaml.MappingNode && len(it.Content) == 2 && it.Content[1].Kind == yaml.SequenceNode {
			nested = append(nested, it.Content[1])
			if list != "" && (it.Content[0].Anchor == list || it.Content[0].Value == list) {
				named = it.Content[1]
			}
		}
	}
	switch {
	case named != nil:
		target = named
	case len(nested) > 0:
		target = nested[len(nested)-1]
		for _, n := range nested {
			if slices.ContainsFunc(n.Content, func(x *yaml.Node) bool { return looksLike(resolve(x).Value) == k.Type }) {
				target = n
			}
		}
	}
	return true, c.appendItem(target, "&"+name+" "+yamlWord(k.Value))
}

// looksLike guesses the type of a key written in keys: (which sops ignores,
// so it carries no type).
func looksLike(v string) string {
	if strings.HasPrefix(v, "age1") {
		return "age"
	}
	return "pgp"
}

// sameRules compares two readings of the creation rules: same order, same
// path_regex and threshold, same keys in each group (order aside).
func sameRules(want, got []CreationRule) error {
	if len(want) != len(got) {
		return fmt.Errorf("%d rules instead of %d", len(got), len(want))
	}
	for i := range want {
		w, g := want[i], got[i]
		if w.PathRegex != g.PathRegex || w.ShamirThreshold != g.ShamirThreshold || len(w.Groups) != len(g.Groups) {
			return fmt.Errorf("%s changed shape", w.Label())
		}
		for j := range w.Groups {
			a, b := slices.Clone(w.Groups[j]), slices.Clone(g.Groups[j])
			slices.SortFunc(a, cmpKey)
			slices.SortFunc(b, cmpKey)
			if !slices.Equal(a, b) {
				return fmt.Errorf("%s group %d would hold %v instead of %v", w.Label(), j, b, a)
			}
		}
	}
	return nil
}

func cmpKey(a, b Key) int { return strings.Compare(a.String(), b.String()) }
