package scaffold

import (
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"
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
	lines := strings.SplitAfter(string(src), "\n")
	if len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return appendSection(lines, key, fields), nil
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
			return insertLines(lines, k.Line, renderEntry("  ", fields)), nil
		}
		if v.Kind == yaml.SequenceNode && v.Style&yaml.FlowStyle != 0 && len(v.Content) == 0 && v.Line == k.Line {
			// "hosts: []": the empty list becomes a block list holding the
			// entry; a comment after it stays.
			line := lines[k.Line-1]
			if i := strings.Index(line[v.Column-1:], "[]"); i >= 0 {
				at := v.Column - 1 + i
				rest := line[:at] + line[at+2:]
				if t := strings.TrimRight(rest, " \t\r\n"); !strings.Contains(t[k.Column-1:], "#") {
					rest = t + strings.TrimLeft(rest[len(t):], " \t")
				}
				lines[k.Line-1] = rest
				indent := strings.Repeat(" ", k.Column-1) + "  "
				return insertLines(lines, k.Line, renderEntry(indent, fields)), nil
			}
		}
		if v.Kind != yaml.SequenceNode || v.Style&yaml.FlowStyle != 0 || len(v.Content) == 0 {
			return nil, fmt.Errorf("nixctl.yaml:%d: %s is not a block list ('- name: ...' lines); add the entry by hand", k.Line, key)
		}
		indent := strings.Repeat(" ", v.Content[0].Column-3)
		end := len(lines)
		if i+2 < len(root.Content) {
			end = root.Content[i+2].Line - 1
		}
		return insertLines(lines, lastContentLine(lines, end), renderEntry(indent, fields)), nil
	}
	return appendSection(lines, key, fields), nil
}

// lastContentLine is the 1-based line, at or above end, after which an entry
// can go: blank lines and column-0 comments just above the next key belong to it.
func lastContentLine(lines []string, end int) int {
	for end > 0 {
		l := lines[end-1]
		if t := strings.TrimSpace(l); t != "" && !strings.HasPrefix(l, "#") {
			break
		}
		end--
	}
	return end
}

// insertLines inserts text after the 1-based line after.
func insertLines(lines []string, after int, text string) []byte {
	var b strings.Builder
	for i, l := range lines {
		b.WriteString(l)
		if i == after-1 {
			if !strings.HasSuffix(l, "\n") {
				b.WriteString("\n")
			}
			b.WriteString(text)
		}
	}
	if after == 0 {
		return []byte(text + b.String())
	}
	return []byte(b.String())
}

func appendSection(lines []string, key string, fields []field) []byte {
	s := strings.Join(lines, "")
	if s != "" && !strings.HasSuffix(s, "\n") {
		s += "\n"
	}
	if s != "" {
		s += "\n"
	}
	return []byte(s + key + ":\n" + renderEntry("  ", fields))
}

// renderEntry writes "- key: value" lines at indent.
func renderEntry(indent string, fields []field) string {
	var b strings.Builder
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
		fmt.Fprintf(&b, "%s%s: %s\n", lead, f.Key, v)
	}
	return b.String()
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
