package secrets

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// Text positions in .sops.yaml. yaml.v3 gives each node a line and a column
// (in characters); the editor turns them into byte offsets of Data and
// splices text there, so every byte it does not mean to change stays.

var errNoSpan = errors.New("cannot locate the text of a YAML value")

// lineStart returns the byte offset where line (1-based) starts.
func (c *SopsConfig) lineStart(line int) int {
	off := 0
	for l := 1; l < line; l++ {
		i := strings.IndexByte(string(c.Data[off:]), '\n')
		if i < 0 {
			return len(c.Data)
		}
		off += i + 1
	}
	return off
}

// lineEnd returns the offset just past line's content (before \r\n or \n).
func (c *SopsConfig) lineEnd(line int) int {
	start := c.lineStart(line)
	i := strings.IndexByte(string(c.Data[start:]), '\n')
	end := len(c.Data)
	if i >= 0 {
		end = start + i
	}
	if end > start && c.Data[end-1] == '\r' {
		end--
	}
	return end
}

func (c *SopsConfig) lineText(line int) string {
	return string(c.Data[c.lineStart(line):c.lineEnd(line)])
}

// offset converts a node position to a byte offset.
func (c *SopsConfig) offset(line, col int) int {
	start, end := c.lineStart(line), c.lineEnd(line)
	off := start
	for i := 1; i < col && off < end; i++ {
		_, size := utf8.DecodeRune(c.Data[off:end])
		off += size
	}
	return off
}

// span returns the byte range of a scalar or alias written on one line,
// anchor and tag included: "&age age1…", "*age", `"a,b"`.
func (c *SopsConfig) span(n *yaml.Node) (int, int, error) {
	start := c.offset(n.Line, n.Column)
	end := c.lineEnd(n.Line)
	d := string(c.Data[:end])
	p := start
	if n.Kind == yaml.AliasNode {
		tok := "*" + n.Value
		if !strings.HasPrefix(d[p:], tok) {
			return 0, 0, errNoSpan
		}
		return start, p + len(tok), nil
	}
	if n.Kind != yaml.ScalarNode {
		return 0, 0, errNoSpan
	}
	for _, prop := range []string{"&" + n.Anchor, "!"} {
		if prop == "&" || !strings.HasPrefix(d[p:], prop) {
			continue
		}
		sp := strings.IndexAny(d[p:], " \t")
		if sp < 0 {
			return 0, 0, errNoSpan
		}
		p += sp
		p += len(d[p:]) - len(strings.TrimLeft(d[p:], " \t"))
	}
	switch {
	case n.Style&yaml.DoubleQuotedStyle != 0:
		for i := p + 1; i < len(d); i++ {
			switch d[i] {
			case '\\':
				i++
			case '"':
				return start, i + 1, nil
			}
		}
	case n.Style&yaml.SingleQuotedStyle != 0:
		for i := p + 1; i < len(d); i++ {
			if d[i] == '\'' {
				if i+1 < len(d) && d[i+1] == '\'' {
					i++
					continue
				}
				return start, i + 1, nil
			}
		}
	case n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0:
	default:
		if strings.HasPrefix(d[p:], n.Value) {
			return start, p + len(n.Value), nil
		}
	}
	return 0, 0, errNoSpan
}

// endLine is the last line a node's text occupies.
func endLine(n *yaml.Node) int {
	last := n.Line
	walk(n, func(x *yaml.Node) {
		l := x.Line
		if x.Kind == yaml.ScalarNode && x.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
			l += strings.Count(strings.TrimRight(x.Value, "\n"), "\n") + 1
		}
		last = max(last, l)
	})
	return last
}

// flowClose finds the ']' or '}' that closes the flow collection starting
// at off, skipping quoted text and comments.
func (c *SopsConfig) flowClose(off int) (int, error) {
	d := c.Data
	depth := 0
	for i := off; i < len(d); i++ {
		switch d[i] {
		case '[', '{':
			depth++
		case ']', '}':
			depth--
			if depth == 0 {
				return i, nil
			}
		case '"':
			for i++; i < len(d) && d[i] != '"'; i++ {
				if d[i] == '\\' {
					i++
				}
			}
		case '\'':
			for i++; i < len(d) && d[i] != '\''; i++ {
			}
		case '#':
			if i > 0 && (d[i-1] == ' ' || d[i-1] == '\t') {
				for i < len(d) && d[i] != '\n' {
					i++
				}
			}
		}
	}
	return 0, errNoSpan
}

// splice replaces Data[start:end] with text and re-reads the file.
func (c *SopsConfig) splice(start, end int, text string) error {
	data := make([]byte, 0, len(c.Data)+len(text))
	data = append(data, c.Data[:start]...)
	data = append(data, text...)
	data = append(data, c.Data[end:]...)
	n, err := ParseSopsConfig(c.Path, data)
	if err != nil {
		// The parse error is this editor's fault, not the user's YAML: keep
		// its text but not its kind and hint ("fix the YAML syntax"), which
		// would blame the wrong party.
		return fmt.Errorf("the edit would leave %s unreadable (%s): change it by hand", c.Path, err.Error())
	}
	*c = *n
	return nil
}

// insertLines puts text lines after line, in the file's line ending; a
// file without a final newline keeps having none.
func (c *SopsConfig) insertLines(after int, lines ...string) error {
	off := c.lineEnd(after)
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(c.eol + l)
	}
	return c.splice(off, off, b.String())
}

// deleteLine removes line and its line ending.
func (c *SopsConfig) deleteLine(line int) error {
	start, end := c.lineStart(line), c.lineStart(line+1)
	if end == len(c.Data) && (end == 0 || c.Data[end-1] != '\n') && start > 0 {
		// The last line has no newline: take the one before it instead.
		start = c.lineEnd(line - 1)
	}
	return c.splice(start, end, "")
}

// ownLine reports whether item is the only node on its line of a block
// sequence ("  - *host  # comment").
func (c *SopsConfig) ownLine(item *yaml.Node) bool {
	s, e, err := c.span(item)
	if err != nil {
		return false
	}
	before := string(c.Data[c.lineStart(item.Line):s])
	after := strings.TrimSpace(string(c.Data[e:c.lineEnd(item.Line)]))
	return strings.TrimSpace(before) == "-" && (after == "" || strings.HasPrefix(after, "#"))
}

// yamlWord writes a string as a YAML flow item: plain when it is safe,
// double-quoted otherwise.
func yamlWord(s string) string {
	plain := func(r rune) bool {
		return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("+/=._-@:", r)
	}
	if s != "" && strings.TrimFunc(s, plain) == "" && !strings.HasPrefix(s, "-") {
		return s
	}
	return strconv.Quote(s)
}
