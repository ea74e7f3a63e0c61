package yamledit

import "testing"

func TestInsertAndDeleteKeepEveryOtherByte(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, in     string
		after        int
		insert, want string
		del          int
		deleted      string
	}{
		{"lf", "a: 1\nb: 2\n", 1, "x: 0", "a: 1\nx: 0\nb: 2\n", 2, "a: 1\n"},
		{"crlf", "a: 1\r\nb: 2\r\n", 2, "x: 0", "a: 1\r\nb: 2\r\nx: 0\r\n", 1, "b: 2\r\n"},
		{"no final newline", "a: 1\nb: 2", 2, "x: 0", "a: 1\nb: 2\nx: 0", 2, "a: 1"},
		{"top", "a: 1\n", 0, "# c", "# c\na: 1\n", 1, ""},
	} {
		text := New([]byte(tc.in))
		at, s := text.InsertLines(tc.after, tc.insert)
		if got := string(text.Splice(at, at, s)); got != tc.want {
			t.Errorf("%s: insert after %d = %q, want %q", tc.name, tc.after, got, tc.want)
		}
		start, end := text.DeleteLine(tc.del)
		if got := string(text.Splice(start, end, "")); got != tc.deleted {
			t.Errorf("%s: delete %d = %q, want %q", tc.name, tc.del, got, tc.deleted)
		}
	}
}

func TestOffsetCountsCharacters(t *testing.T) {
	t.Parallel()
	text := New([]byte("k: v\r\n- é: x # c\r\n"))
	if got := text.Line(2); got != "- é: x # c" {
		t.Errorf("line 2 = %q", got)
	}
	// Column 6 is the x, after a two-byte é.
	if off := text.Offset(2, 6); string(text.Data[off]) != "x" {
		t.Errorf("offset(2, 6) = %d (%q)", off, text.Data[off:])
	}
	if text.LineStart(9) != len(text.Data) || text.Line(9) != "" {
		t.Error("a line past the end is empty, at the end")
	}
}
