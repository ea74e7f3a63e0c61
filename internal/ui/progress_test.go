package ui

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"
)

func fixedClock() func() time.Time {
	t0 := time.Date(2026, 11, 25, 22, 0, 0, 0, time.UTC)
	n := 0
	return func() time.Time {
		n++
		return t0.Add(time.Duration(n) * time.Second)
	}
}

func TestProgressPlainLines(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	p := newProgress(&IO{Err: &buf}, []string{"web-1", "web-2"}, fixedClock())
	p.Stage("web-1", "preflight")
	fmt.Fprint(p.Writer("web-2"), "building\npartial")
	fmt.Fprint(p.Writer("web-2"), " line\n")
	p.Done("web-1", "ok", false)
	p.Close()
	want := "web-1: preflight\nweb-2: building\nweb-2: partial line\n"
	if got := buf.String(); !strings.HasPrefix(got, want) || !strings.Contains(got, "web-1: ok (") {
		t.Errorf("got %q", got)
	}
}

func TestProgressQuietPrintsNothing(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	p := NewProgress(&IO{Err: &buf, Quiet: true}, []string{"a"})
	p.Stage("a", "build")
	p.Line("a", "output")
	p.Done("a", "ok", false)
	p.Close()
	if buf.Len() != 0 {
		t.Errorf("quiet printed %q", buf.String())
	}
}

func TestProgressLiveRedrawsInPlace(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	p := newProgress(&IO{Err: &buf, ErrTTY: true}, []string{"a", "bb"}, fixedClock())
	p.Stage("a", "activate")
	p.Line("bb", "child output")
	p.Done("a", "failed", true)
	p.Close()
	out := buf.String()
	// Each redraw moves up over the two live lines and clears them.
	if !strings.Contains(out, "\x1b[2A\r\x1b[J") {
		t.Errorf("no in-place redraw: %q", out)
	}
	// Output lines scroll above the live block.
	if !strings.Contains(out, "\x1b[Jbb: child output\na ") {
		t.Errorf("output line not printed above the live lines: %q", out)
	}
	final := out[strings.LastIndex(out, "\x1b[J")+len("\x1b[J"):]
	lines := strings.Split(strings.TrimSuffix(final, "\n"), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "a   ✗ failed") || !strings.HasPrefix(lines[1], "bb  waiting") {
		t.Errorf("final live lines %q", lines)
	}
}
