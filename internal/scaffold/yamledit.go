package scaffold

import (
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/nixctl/nixctl/internal/yamledit"
)

// field is one key of an inventory entry; a list value is written in flow
// style ([a, b]), as the template does.
type field struct {
	Key   string
	Value string
	List  []string
	// Number writes Value as it is (a port), not as a string.
	Number bool
	// Comment goes at the end of the line: where a value came from.
	Comment string
}

// appendEntry adds a mapping to the top-level sequence key (hosts or
// profiles) of an inventory, as text: yaml.v3's node tree tells where the
// sequence ends and how it is indented, and every other byte of the file
// (comments, blank lines, order, quoting) stays as it was. Re-encoding the
// tree would drop blank lines and restyle the file.
func appendEntry(src []byte, key string, fields []field) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return nil, fmt.Errorf("nixctl.yaml is not valid YAML: %w", err)
	}
	t := yamledit.New(src)
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return appendSection(t, key, fields), nil
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("nixctl.yaml is not a mapping of keys to values")
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if k.Value != key {
			continue
		}
		if v.Kind == yaml.ScalarNode && v.Tag == "!!null" {
			// "hosts:" with nothing after it: the entry goes right below.
			return insertEntry(t, k.Line, "  ", fields), nil
		}
		if v.Kind == yaml.SequenceNode && v.Style&yaml.FlowStyle != 0 && len(v.Content) == 0 && v.Line == k.Line {
			// "hosts: []": the empty list becomes a block list holding the
			// entry; a comment after it stays.
			line := t.Line(k.Line)
			if i := strings.Index(line[v.Column-1:], "[]"); i >= 0 {
				at := v.Column - 1 + i
				rest := line[:at] + line[at+2:]
				if trimmed := strings.TrimRight(rest, " \t"); !strings.Contains(trimmed[k.Column-1:], "#") {
					rest = trimmed + strings.TrimLeft(rest[len(trimmed):], " \t")
				}
				t = yamledit.Text{Data: t.Splice(t.LineStart(k.Line), t.LineEnd(k.Line), rest), EOL: t.EOL}
				return insertEntry(t, k.Line, strings.Repeat(" ", k.Column-1)+"  ", fields), nil
			}
		}
		if v.Kind != yaml.SequenceNode || v.Style&yaml.FlowStyle != 0 || len(v.Content) == 0 {
			return nil, fmt.Errorf("nixctl.yaml:%d: %s is not a block list ('- name: ...' lines); add the entry by hand", k.Line, key)
		}
		indent := strings.Repeat(" ", v.Content[0].Column-3)
		end := strings.Count(string(src), "\n") + 1
		if i+2 < len(root.Content) {
			end = root.Content[i+2].Line - 1
		}
		return insertEntry(t, lastContentLine(t, end), indent, fields), nil
	}
	return appendSection(t, key, fields), nil
}

// lastContentLine is the line, at or above end, after which an entry can
// go: blank lines and column-0 comments just above the next key belong to it.
func lastContentLine(t yamledit.Text, end int) int {
	for end > 0 {
		l := t.Line(end)
		if strings.TrimSpace(l) != "" && !strings.HasPrefix(l, "#") {
			break
		}
		end--
	}
	return end
}

// insertEntry puts the entry's lines after line; an entry that ends the
// file ends with a newline, even where the file had none.
func insertEntry(t yamledit.Text, after int, indent string, fields []field) []byte {
	at, text := t.InsertLines(after, renderEntry(indent, fields)...)
	if at == len(t.Data) {
		text += t.EOL
	}
	return t.Splice(at, at, text)
}

// appendSection writes "key:" and the entry at the end, after a blank line.
func appendSection(t yamledit.Text, key string, fields []field) []byte {
	lines := append([]string{key + ":"}, renderEntry("  ", fields)...)
	s := string(t.Data)
	if s != "" && !strings.HasSuffix(s, "\n") {
		s += t.EOL
	}
	if s != "" {
		s += t.EOL
	}
	return []byte(s + strings.Join(lines, t.EOL) + t.EOL)
}

// renderEntry writes "- key: value" lines at indent.
func renderEntry(indent string, fields []field) []string {
	lines := make([]string, len(fields))
	for i, f := range fields {
		lead := indent + "  "
		if i == 0 {
			lead = indent + "- "
		}
		v := scalar(f.Value)
		if f.Number {
			v = f.Value
		}
		if f.List != nil {
			items := make([]string, len(f.List))
			for j, s := range f.List {
				items[j] = scalar(s)
			}
			v = "[" + strings.Join(items, ", ") + "]"
		}
		if f.Comment != "" {
			v += "  # " + strings.Join(strings.Fields(f.Comment), " ")
		}
		lines[i] = lead + f.Key + ": " + v
	}
	return lines
}

// scalar writes s as a YAML string, quoted only when YAML would read it as
// something else (yes, 1.0, an IPv6 address...).
func scalar(s string) string {
	out, err := yaml.Marshal(s)
	if err != nil {
		return fmt.Sprintf("%q", s)
	}
	return strings.TrimSuffix(string(out), "\n")
}
