// Package yamledit edits a YAML file as text, at the lines and columns
// yaml.v3 gives its nodes, so that every byte an edit does not mean to
// change (comments, blank lines, quoting, order, line endings) stays as it
// was; re-encoding the node tree would restyle the whole file. The
// inventory (nixctl.yaml) and .sops.yaml are both edited this way.
package yamledit

import (
	"bytes"
	"strings"
	"unicode/utf8"
)

// Text is a YAML file's bytes. Lines and columns are 1-based, as yaml.v3
// counts them; columns count characters, not bytes.
type Text struct {
	Data []byte
	// EOL is the line ending the file uses: "\r\n" or "\n".
	EOL string
}

// New reads data's line ending: CRLF when any line ends so.
func New(data []byte) Text {
	t := Text{Data: data, EOL: "\n"}
	if bytes.Contains(data, []byte("\r\n")) {
		t.EOL = "\r\n"
	}
	return t
}

// LineStart returns the offset where line starts (len(Data) past the end).
func (t Text) LineStart(line int) int {
	off := 0
	for l := 1; l < line; l++ {
		i := bytes.IndexByte(t.Data[off:], '\n')
		if i < 0 {
			return len(t.Data)
		}
		off += i + 1
	}
	return off
}

// LineEnd returns the offset just past line's content, before its ending.
func (t Text) LineEnd(line int) int {
	start := t.LineStart(line)
	i := bytes.IndexByte(t.Data[start:], '\n')
	end := len(t.Data)
	if i >= 0 {
		end = start + i
	}
	if end > start && t.Data[end-1] == '\r' {
		end--
	}
	return end
}

// Line returns line's content, without its ending.
func (t Text) Line(line int) string {
	return string(t.Data[t.LineStart(line):t.LineEnd(line)])
}

// Offset converts a node's line and column to a byte offset.
func (t Text) Offset(line, col int) int {
	start, end := t.LineStart(line), t.LineEnd(line)
	off := start
	for i := 1; i < col && off < end; i++ {
		_, size := utf8.DecodeRune(t.Data[off:end])
		off += size
	}
	return off
}

// Splice returns the text with Data[start:end] replaced by s.
func (t Text) Splice(start, end int, s string) []byte {
	data := make([]byte, 0, len(t.Data)-(end-start)+len(s))
	data = append(data, t.Data[:start]...)
	data = append(data, s...)
	return append(data, t.Data[end:]...)
}

// InsertLines returns where lines go to follow line after (0: at the top)
// and the text to put there, in the file's line ending. A file without a
// final newline keeps having none.
func (t Text) InsertLines(after int, lines ...string) (at int, text string) {
	if after == 0 {
		return 0, strings.Join(lines, t.EOL) + t.EOL
	}
	return t.LineEnd(after), t.EOL + strings.Join(lines, t.EOL)
}

// DeleteLine returns the range that removes line and its ending.
func (t Text) DeleteLine(line int) (start, end int) {
	start, end = t.LineStart(line), t.LineStart(line+1)
	if end == len(t.Data) && (end == 0 || t.Data[end-1] != '\n') && start > 0 {
		// The last line has no newline: take the one before it instead.
		start = t.LineEnd(line - 1)
	}
	return start, end
}
