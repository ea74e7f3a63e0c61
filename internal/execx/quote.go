package execx

import "strings"

// Quote renders argv for display in POSIX shell syntax: each word is left bare
// when that is safe and single-quoted otherwise.
func Quote(argv []string) string {
	parts := make([]string, len(argv))
	for i, a := range argv {
		parts[i] = QuoteWord(a)
	}
	return strings.Join(parts, " ")
}

// QuoteWord quotes one word for a POSIX shell.
func QuoteWord(s string) string {
	if s == "" {
		return "''"
	}
	safe := true
	for _, r := range s {
		if !bareRune(r) {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func bareRune(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("@%+=:,./_-#", r)
}
