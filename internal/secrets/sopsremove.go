package secrets

import (
	"fmt"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/nixctl/nixctl/internal/fault"
)

// occurrence is one place a rule lists the key being removed.
type occurrence struct {
	rule  int
	field *yaml.Node // the field's key node
	value *yaml.Node // the field's value, unresolved
	item  *yaml.Node // the list item holding the key (nil: the value itself)
	// anchor is the anchored node still in use that stops the removal.
	anchor *yaml.Node
}

// RemoveRecipient takes k out of the selected rules. Its anchor in keys:
// goes too once nothing refers to it any more. A list shared through an
// anchor with rules that are not selected is left alone: the selected rule
// gets its own explicit list instead.
func (c *SopsConfig) RemoveRecipient(sel RuleSelector, k Key) (*Edit, error) {
	if k.Type == "" {
		k.Type = "age"
	}
	k = normKey(k.Type, k.Value)
	e := &Edit{Before: c, After: c}
	var targets []int
	for _, i := range c.selected(sel) {
		if c.rules[i].GroupOf(k) >= 0 {
			targets = append(targets, i)
		}
	}
	cur := c.clone()
	for pass := 0; len(targets) > 0; pass++ {
		if pass > 1000 {
			return nil, fmt.Errorf("%s: removing %s does not converge", c.baseName(), shortKey(k.Value))
		}
		occ, blocked := cur.nextOccurrence(k, targets)
		if occ == nil {
			if blocked != nil {
				return nil, fault.Newf(fault.Secrets, "select those rules too, or move the anchor to keys: first",
					"%s: %s: &%s holds %s and is %s", c.baseName(), c.rules[blocked.rule].Label(), blocked.anchor.Anchor, shortKey(k.Value), cur.otherUsers(blocked.anchor, blocked.rule))
			}
			break
		}
		note, err := cur.removeOccurrence(occ, k, targets)
		if err != nil {
			return nil, err
		}
		if note != "" {
			e.Notes = append(e.Notes, note)
		}
	}
	if len(cur.RulesWith(k)) == 0 {
		if err := cur.dropKeysEntry(k); err != nil {
			return nil, err
		}
	}
	want := c.Rules()
	for _, i := range targets {
		want[i].Groups = slices.Clone(want[i].Groups)
		for g := range want[i].Groups {
			want[i].Groups[g] = slices.DeleteFunc(slices.Clone(want[i].Groups[g]), func(x Key) bool { return x == k })
		}
	}
	if err := sameRules(want, cur.rules); err != nil {
		return nil, fault.Newf(fault.Secrets, "remove the key by hand, then run 'nixctl secrets rekey'", "%s: the edit would not mean what was asked (%v)", c.baseName(), err)
	}
	e.After, e.Rules = cur, targets
	return e, nil
}

func (o *occurrence) defNode() *yaml.Node {
	if o.item != nil {
		return o.item
	}
	return o.value
}

// holds reports whether scalar n lists k (alone or in a comma list).
func holds(n *yaml.Node, k Key) bool {
	n = resolve(n)
	if n == nil || n.Kind != yaml.ScalarNode {
		return false
	}
	for _, p := range strings.Split(n.Value, ",") {
		if normKey(k.Type, p) == k {
			return true
		}
	}
	return false
}

// nextOccurrence finds a place to remove k from. An anchored value that
// aliases still use is returned as blocked: it goes last, once the
// aliases are gone, or the removal stops.
func (c *SopsConfig) nextOccurrence(k Key, targets []int) (next, blocked *occurrence) {
	for _, i := range targets {
		r := c.rules[i]
		owners := []*yaml.Node{r.node}
		fields := []string{ruleField(k.Type)}
		if r.Grouped {
			owners = resolve(mapGet(r.node, "key_groups")).Content
			fields = []string{k.Type}
		}
		for _, o := range owners {
			key, v := mapEntry(o, fields[0])
			if v == nil {
				continue
			}
			rv := resolve(v)
			var occ *occurrence
			switch {
			case v.Kind == yaml.AliasNode && (holds(rv, k) || (rv.Kind == yaml.SequenceNode && slices.ContainsFunc(rv.Content, func(x *yaml.Node) bool { return holds(x, k) }))):
				occ = &occurrence{rule: i, field: key, value: v}
			case rv.Kind == yaml.ScalarNode && holds(rv, k):
				occ = &occurrence{rule: i, field: key, value: v}
			case rv.Kind == yaml.SequenceNode:
				for _, it := range rv.Content {
					if holds(it, k) {
						occ = &occurrence{rule: i, field: key, value: v, item: it}
						break
					}
				}
			}
			if occ == nil {
				continue
			}
			if v.Kind != yaml.AliasNode {
				d := occ.defNode()
				editable := d.Kind == yaml.ScalarNode && len(remaining(d, k)) > 0 && c.sharedWithin(d, targets) && c.onlyIn(d, k.Type)
				if d.Anchor != "" && c.aliasCount(d) > 0 && !editable {
					occ.anchor, blocked = d, occ
					continue
				}
				if occ.item != nil && rv.Anchor != "" && c.aliasCount(rv) > 0 && !c.sharedWithin(rv, targets) {
					occ.anchor, blocked = rv, occ
					continue
				}
			}
			return occ, nil
		}
	}
	return nil, blocked
}

// removeOccurrence edits one place.
func (c *SopsConfig) removeOccurrence(o *occurrence, k Key, targets []int) (string, error) {
	label := c.rules[o.rule].Label()
	v := o.value
	if v.Kind == yaml.AliasNode {
		a := v.Alias
		if a.Kind == yaml.ScalarNode && len(remaining(a, k)) > 0 && c.sharedWithin(a, targets) && c.onlyIn(a, k.Type) {
			// A comma list every user of which loses the key: edit it once.
			return "", c.rewriteScalar(a, remaining(a, k))
		}
		if a.Kind == yaml.SequenceNode && c.sharedWithin(a, targets) {
			for _, it := range a.Content {
				if holds(it, k) && (it.Anchor == "" || c.aliasCount(it) == 0) {
					return "", c.removeItem(a, it, k)
				}
			}
		}
		var rest []string
		if a.Kind == yaml.SequenceNode {
			for _, it := range a.Content {
				if !holds(it, k) {
					s, err := c.items(it)
					if err != nil {
						return "", err
					}
					rest = append(rest, s...)
				} else {
					rest = append(rest, remaining(it, k)...)
				}
			}
		} else {
			rest = remaining(a, k)
		}
		s, e, err := c.span(v)
		if err != nil {
			return "", err
		}
		note := fmt.Sprintf("%s: *%s is shared (%s); that rule now lists its keys itself and &%s is unchanged", label, v.Value, c.otherUsers(a, o.rule), v.Value)
		if len(rest) == 0 {
			note = ""
			if ok, err := c.dropField(o.field, v); ok || err != nil {
				return note, err
			}
		}
		return note, c.splice(s, e, "["+strings.Join(rest, ", ")+"]")
	}
	if o.item != nil {
		last := len(v.Content) == 1 && len(remaining(o.item, k)) == 0
		line, field := o.field.Line, o.field.Value
		if err := c.removeItem(v, o.item, k); err != nil {
			return "", err
		}
		// "age:" left without items goes too, when its line holds only it.
		if last && strings.TrimSpace(c.text().Line(line)) == field+":" {
			return "", c.deleteLine(line)
		}
		return "", nil
	}
	rest := remaining(v, k)
	if len(rest) == 0 {
		if ok, err := c.dropField(o.field, v); ok || err != nil {
			return "", err
		}
	}
	return "", c.rewriteScalar(v, rest)
}

// remaining lists the comma-list values of scalar n other than k.
func remaining(n *yaml.Node, k Key) []string {
	var out []string
	for _, p := range strings.Split(resolve(n).Value, ",") {
		if strings.TrimSpace(p) != "" && normKey(k.Type, p) != k {
			out = append(out, strings.TrimSpace(p))
		}
	}
	return out
}

// rewriteScalar writes a comma-list scalar with the values rest, keeping
// its quoting and separator.
func (c *SopsConfig) rewriteScalar(n *yaml.Node, rest []string) error {
	s, e, err := c.span(n)
	if err != nil {
		return fault.Newf(fault.Secrets, "edit it by hand", "%s: a key list is written in a way nixctl does not edit", c.baseName())
	}
	sep := ","
	if strings.Contains(n.Value, ", ") {
		sep = ", "
	}
	text := strings.Join(rest, sep)
	prefix := ""
	if n.Anchor != "" {
		prefix = "&" + n.Anchor + " "
	}
	switch {
	case n.Style&yaml.DoubleQuotedStyle != 0:
		text = `"` + text + `"`
	case n.Style&yaml.SingleQuotedStyle != 0:
		text = "'" + text + "'"
	case text == "":
		text = `""`
	}
	return c.splice(s, e, prefix+text)
}

// dropField deletes a "field: value" line when that line holds nothing
// else (not "- age: …", which starts its mapping). It reports whether it did.
func (c *SopsConfig) dropField(key, v *yaml.Node) (bool, error) {
	if key.Line != v.Line {
		return false, nil
	}
	_, e, err := c.span(v)
	if err != nil {
		return false, nil
	}
	before := strings.TrimSpace(string(c.Data[c.text().LineStart(key.Line):c.text().Offset(key.Line, key.Column)]))
	after := strings.TrimSpace(string(c.Data[e:c.text().LineEnd(key.Line)]))
	if before != "" || (after != "" && !strings.HasPrefix(after, "#")) {
		return false, nil
	}
	return true, c.deleteLine(key.Line)
}

// removeItem takes one item (holding k) out of a sequence.
func (c *SopsConfig) removeItem(seq, it *yaml.Node, k Key) error {
	if rest := remaining(it, k); len(rest) > 0 {
		return c.rewriteScalar(it, rest)
	}
	if seq.Style&yaml.FlowStyle == 0 {
		if !c.ownLine(it) {
			return fault.Newf(fault.Secrets, "put each key on its own line", "%s: a key shares its line with other text", c.baseName())
		}
		return c.deleteLine(it.Line)
	}
	s, e, err := c.span(it)
	if err != nil {
		return err
	}
	d := string(c.Data)
	// Take the comma after the item, else the one before it.
	after := strings.TrimLeft(d[e:], " \t\r\n")
	if strings.HasPrefix(after, ",") {
		end := len(d) - len(after) + 1
		end += len(d[end:]) - len(strings.TrimLeft(d[end:], " \t"))
		return c.splice(s, end, "")
	}
	before := strings.TrimRight(d[:s], " \t\r\n")
	if strings.HasSuffix(before, ",") {
		return c.splice(len(before)-1, e, "")
	}
	return c.splice(s, e, "")
}

// dropKeysEntry deletes the keys: entry anchoring k once nothing uses it.
func (c *SopsConfig) dropKeysEntry(k Key) error {
	keys := mapGet(c.top(), "keys")
	if keys == nil {
		return nil
	}
	var found *yaml.Node
	var parent *yaml.Node
	var visit func(seq *yaml.Node)
	visit = func(seq *yaml.Node) {
		for _, it := range seq.Content {
			switch {
			case it.Kind == yaml.ScalarNode && it.Anchor != "" && normKey(k.Type, it.Value) == k && found == nil:
				found, parent = it, seq
			case it.Kind == yaml.MappingNode && len(it.Content) == 2 && it.Content[1].Kind == yaml.SequenceNode:
				visit(it.Content[1])
			}
		}
	}
	if keys.Kind == yaml.SequenceNode {
		visit(keys)
	}
	if found == nil || c.aliasCount(found) > 0 {
		return nil
	}
	if err := c.removeItem(parent, found, k); err != nil {
		return err
	}
	// A keys: left empty goes too, when its line holds nothing else.
	if key, v := mapEntry(c.top(), "keys"); key != nil && isNull(v) && v.Value == "" && strings.TrimSpace(c.text().Line(key.Line)) == "keys:" {
		return c.deleteLine(key.Line)
	}
	return nil
}
