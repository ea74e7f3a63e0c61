// Package ui owns nixctl's terminal: streams, TTY and colour detection, tables,
// JSON and live progress. Results go to Out; progress, logs and child output go
// to Err. ui knows nothing of nix or hosts.
package ui

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"sync"
	"unicode/utf8"

	"golang.org/x/term"
)

// Stdio are the process's three streams.
type Stdio struct {
	In  io.Reader
	Out io.Writer
	Err io.Writer
}

// IO is what commands use to talk to the user.
type IO struct {
	In  io.Reader
	Out io.Writer
	Err io.Writer

	InTTY, OutTTY, ErrTTY bool
	Color                 bool
	Verbose               bool
	Quiet                 bool

	mu sync.Mutex
}

// Terminal is what the environment says about colour.
type Terminal struct {
	// NoColor is true when NO_COLOR is set to anything but "".
	NoColor bool
	// Term is $TERM.
	Term string
}

// New wraps stdio, detecting terminals. Colour is on only when stderr is a
// terminal, NO_COLOR is unset or empty, TERM is not dumb and noColor is
// false.
func New(s Stdio, t Terminal, noColor bool) *IO {
	io := &IO{In: s.In, Out: s.Out, Err: s.Err}
	io.InTTY = isTerminal(s.In)
	io.OutTTY = isTerminal(s.Out)
	io.ErrTTY = isTerminal(s.Err)
	io.Color = io.ErrTTY && !noColor && !t.NoColor && t.Term != "dumb"
	return io
}

// OnErr is o with results going to stderr, for what a command must show
// while stdout is kept for --json: the plan before a question, say.
func (o *IO) OnErr() *IO {
	return &IO{In: o.In, Out: o.Err, Err: o.Err, InTTY: o.InTTY, OutTTY: o.ErrTTY, ErrTTY: o.ErrTTY, Color: o.Color, Verbose: o.Verbose, Quiet: o.Quiet}
}

func isTerminal(v any) bool {
	f, ok := v.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// Logf writes a progress line to stderr unless quiet.
func (o *IO) Logf(format string, args ...any) {
	if o.Quiet {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	fmt.Fprintf(o.Err, format+"\n", args...)
}

// Debugf writes to stderr only in verbose mode.
func (o *IO) Debugf(format string, args ...any) {
	if !o.Verbose {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	fmt.Fprintf(o.Err, "debug: "+format+"\n", args...)
}

// Warnf always writes a warning to stderr.
func (o *IO) Warnf(format string, args ...any) {
	o.mu.Lock()
	defer o.mu.Unlock()
	fmt.Fprintf(o.Err, "%s "+format+"\n", append([]any{o.Paint(Yellow, "warning:")}, args...)...)
}

// Printf writes a result to stdout. Colour codes (Paint decides by stderr)
// are removed when stdout is not a terminal, so pipes get plain text.
func (o *IO) Printf(format string, args ...any) {
	o.mu.Lock()
	defer o.mu.Unlock()
	fmt.Fprint(o.Out, o.plainUnlessTTY(fmt.Sprintf(format, args...)))
}

func (o *IO) plainUnlessTTY(s string) string {
	if o.OutTTY {
		return s
	}
	return ansiRe.ReplaceAllString(s, "")
}

// PrintJSON writes v to stdout as indented JSON.
func (o *IO) PrintJSON(v any) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	enc := json.NewEncoder(o.Out)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// Table writes rows to stdout: aligned columns on a terminal, tab-separated
// lines otherwise (easy to cut and awk).
func (o *IO) Table(header []string, rows [][]string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.OutTTY {
		for _, r := range rows {
			fmt.Fprintln(o.Out, o.plainUnlessTTY(strings.Join(r, "\t")))
		}
		return
	}
	all := rows
	if len(header) > 0 {
		up := make([]string, len(header))
		for i, h := range header {
			up[i] = strings.ToUpper(h)
		}
		all = append([][]string{up}, rows...)
	}
	fmt.Fprint(o.Out, alignColumns(all))
}

// Width is the terminal's width in columns when stdout is one, else 0: no
// limit, so piped output keeps every cell whole.
func (o *IO) Width() int {
	f, ok := o.Out.(*os.File)
	if !o.OutTTY || !ok {
		return 0
	}
	w, _, err := term.GetSize(int(f.Fd()))
	if err != nil {
		return 0
	}
	return w
}

// TableWidth is the width Table gives rows (with the header) on a terminal.
func TableWidth(header []string, rows [][]string) int {
	out := alignColumns(append([][]string{header}, rows...))
	w := 0
	for _, l := range strings.Split(out, "\n") {
		w = max(w, visibleWidth(l))
	}
	return w
}

// alignColumns pads cells to their column's widest visible text (colour
// codes take no room on screen, so they are not counted).
func alignColumns(rows [][]string) string {
	var widths []int
	for _, r := range rows {
		for i, c := range r {
			if i >= len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], visibleWidth(c))
		}
	}
	var b strings.Builder
	for _, r := range rows {
		for i, c := range r {
			b.WriteString(c)
			if i < len(r)-1 {
				b.WriteString(strings.Repeat(" ", widths[i]-visibleWidth(c)+2))
			}
		}
		b.WriteByte('\n')
	}
	return b.String()
}

func visibleWidth(s string) int {
	return utf8.RuneCountInString(ansiRe.ReplaceAllString(s, ""))
}

var ansiRe = regexp.MustCompile(`\x1b\[[0-9;]*m`)

// ErrNoTTY is returned by Confirm when nobody can answer.
var ErrNoTTY = errors.New("no terminal to ask for confirmation")

// Confirm asks a yes/no question on stderr and reads the answer from stdin.
// Without a terminal on stdin it returns ErrNoTTY: callers require --yes then.
func (o *IO) Confirm(question string) (bool, error) {
	if !o.InTTY {
		return false, ErrNoTTY
	}
	o.mu.Lock()
	fmt.Fprintf(o.Err, "%s [y/N] ", question)
	o.mu.Unlock()
	line, err := bufio.NewReader(o.In).ReadString('\n')
	if err != nil && line == "" {
		return false, err
	}
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return true, nil
	}
	return false, nil
}
