package execx

import "strings"

// Quote renders argv as one POSIX shell command line: what --dry-run prints
// for a user to paste, and what nixctl sends a host's shell over SSH. Each
// word is left bare when that is safe and single-quoted otherwise; the first
// is also quoted when a shell would read it as an assignment (A=b cmd).
func Quote(argv []string) string {
	parts := make([]string, len(argv))
	for i, a := range argv {
		parts[i] = QuoteWord(a)
		if i == 0 && parts[i] == a && assignment(a) {
			parts[i] = quote(a)
		}
	}
	return strings.Join(parts, " ")
}

// QuoteWord quotes s as one argument for a POSIX shell: a word after the
// command name (or the value in NAME=value). It is bare when it holds only
// letters, digits and @%+:,./_-#= and does not start with '#': '#' starts
// a comment only at the start of a word, and '=' means something only in a
// command's first word (Quote quotes that one), so "/repo#host" and
// "ConnectTimeout=5" stay readable. Anything else is single-quoted, each
// single quote inside closed, escaped with a backslash and reopened.
func QuoteWord(s string) string {
	if s == "" || s[0] == '#' || strings.IndexFunc(s, special) >= 0 {
		return quote(s)
	}
	return s
}

func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

func special(r rune) bool {
	plain := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("@%+:,./_-#=", r)
	return !plain
}

// assignment reports whether a shell would take word, first on a command
// line, for a variable assignment: NAME=...
func assignment(word string) bool {
	name, _, ok := strings.Cut(word, "=")
	if !ok || name == "" {
		return false
	}
	for i, r := range name {
		letter := r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z'
		if !letter && (i == 0 || r < '0' || r > '9') {
			return false
		}
	}
	return true
}
