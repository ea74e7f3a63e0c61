package remote

import "strings"

// ShellQuote quotes s as one word for a POSIX shell on the remote side: bare
// when it holds only characters no shell treats specially, otherwise in
// single quotes with embedded single quotes written as '\”.
func ShellQuote(s string) string {
	if s == "" {
		return "''"
	}
	for _, r := range s {
		if !bareRune(r) {
			return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
		}
	}
	return s
}

// ShellJoin quotes each word and joins them with spaces: a command line for
// a remote shell.
func ShellJoin(words ...string) string {
	q := make([]string, len(words))
	for i, w := range words {
		q[i] = ShellQuote(w)
	}
	return strings.Join(q, " ")
}

func bareRune(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("@%+:,./_-", r)
}
