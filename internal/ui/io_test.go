package ui

import (
	"bytes"
	"strings"
	"testing"
)

func TestTableAlignsVisibleTextAndPipesTabs(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	o := &IO{Out: &out, OutTTY: true, Color: true}
	o.Table([]string{"", "name"}, [][]string{{o.OK(), "alpha"}, {o.Fail(), "b"}})
	lines := strings.Split(strings.TrimRight(out.String(), "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("got %q", out.String())
	}
	// The name column starts at the same screen column on every line.
	col := func(s string) int {
		plain := []rune(ansiRe.ReplaceAllString(s, ""))
		i := len(plain)
		for i > 0 && plain[i-1] != ' ' {
			i--
		}
		return i
	}
	if col(lines[0]) != col(lines[1]) || col(lines[1]) != col(lines[2]) {
		t.Errorf("misaligned:\n%s", out.String())
	}
	out.Reset()
	o.OutTTY = false // piped stdout, while stderr (Color) is a terminal
	o.Table([]string{"a", "b"}, [][]string{{o.OK(), "2"}})
	o.Printf("%s done\n", o.Fail())
	if out.String() != "✓\t2\n✗ done\n" {
		t.Errorf("piped output = %q, want plain tab-separated rows without header", out.String())
	}
}

func TestColourOnlyOnTerminalWithoutNoColor(t *testing.T) {
	t.Parallel()
	o := New(Stdio{Out: &bytes.Buffer{}, Err: &bytes.Buffer{}}, Terminal{}, false)
	if o.Color {
		t.Error("colour on a non-terminal")
	}
	if o.Paint(Red, "x") != "x" {
		t.Error("Paint must not colour without colour")
	}
}

func TestPrefixWriterKeepsLinesWhole(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	w := NewPrefixWriter(&out, "web-1: ", nil)
	_, _ = w.Write([]byte("one\ntw"))
	_, _ = w.Write([]byte("o\nthree"))
	_ = w.Flush()
	if out.String() != "web-1: one\nweb-1: two\nweb-1: three\n" {
		t.Errorf("got %q", out.String())
	}
}
