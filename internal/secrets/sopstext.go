package secrets

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/nixctl/nixctl/internal/yamledit"
)

// Text positions in .sops.yaml. yaml.v3 gives each node a line and a column
// (in characters); the editor turns them into byte offsets of Data and
// splices text there, so every byte it does not mean to change stays.

var errNoSpan = errors.New("cannot locate the text of a YAML value")

// text is the file as the line editor sees it.
func (c *SopsConfig) text() yamledit.Text { return yamledit.Text{Data: c.Data, EOL: c.eol} }

// span returns the byte range of a scalar or alias written on one line,
// anchor and tag included: "&age age1…", "*age", `"a,b"`.
func (c *SopsConfig) span(n *yaml.Node) (int, int, error) {
	start := c.text().Offset(n.Line, n.Column)
	end := c.text().LineEnd(n.Line)
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
	n, err := ParseSopsConfig(c.Path, c.text().Splice(start, end, text))
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
	at, text := c.text().InsertLines(after, lines...)
	return c.splice(at, at, text)
}

// deleteLine removes line and its line ending.
func (c *SopsConfig) deleteLine(line int) error {
	start, end := c.text().DeleteLine(line)
	return c.splice(start, end, "")
}

// ownLine reports whether item is the only node on its line of a block
// sequence ("  - *host  # comment").
func (c *SopsConfig) ownLine(item *yaml.Node) bool {
	s, e, err := c.span(item)
	if err != nil {
		return false
	}
	before := string(c.Data[c.text().LineStart(item.Line):s])
	after := strings.TrimSpace(string(c.Data[e:c.text().LineEnd(item.Line)]))
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
