package remote

import (
	"strconv"
	"strings"
)

// ShellQuote quotes s as one word for a POSIX shell on the remote side: bare
// when it holds only characters no shell treats specially, otherwise in
// single quotes with embedded single quotes written as '\”.
func ShellQuote(s string) string {
	if s == "" {
		return "''"
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("@%+:,./_-", r)) {
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

// SSHArgs are the options for the system ssh (or NIX_SSHOPTS) that reach t
// the way Dial does: extra (the inventory's sshOptions) first, then the
// port, the identity file and the known_hosts files. The destination itself
// is not included. knownHosts are joined into one UserKnownHostsFile
// option; NIX_SSHOPTS is split on spaces, so pass at most one file there.
func SSHArgs(t Target, extra []string, knownHosts []string) []string {
	args := append([]string(nil), extra...)
	if t.Port != 0 && t.Port != 22 {
		args = append(args, "-p", strconv.Itoa(t.Port))
	}
	if t.Identity != "" {
		args = append(args, "-i", t.Identity)
	}
	if len(knownHosts) > 0 {
		args = append(args, "-o", "UserKnownHostsFile="+strings.Join(knownHosts, " "))
	}
	return args
}
