package inventory

import (
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"unicode"
)

// Everything from the inventory that ends up in an argv, an ssh destination
// or a remote shell is checked against these patterns first, so nothing the
// file says can be read as an option, a second command or a path outside the
// repository.
var (
	nameRe  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
	tagRe   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
	userRe  = regexp.MustCompile(`^[a-z_][a-z0-9_.-]*$`)
	attrRe  = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._@+-]*$`)
	labelRe = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?$`)
	extRe   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
)

func validName(s string) string {
	if len(s) > 63 {
		return fmt.Sprintf("%q is longer than 63 characters", s)
	}
	if !nameRe.MatchString(s) {
		return fmt.Sprintf("%s is not a valid name: use letters, digits, '.', '_' and '-', starting with a letter or digit", printable(s))
	}
	return ""
}

func validTag(s string) string {
	if !tagRe.MatchString(s) {
		return fmt.Sprintf("%s is not a valid tag: use letters, digits, '.', '_' and '-'", printable(s))
	}
	return ""
}

func validUser(s string) string {
	if len(s) > 32 || !userRe.MatchString(s) {
		return fmt.Sprintf("%s is not a valid user name: lower-case letters, digits, '_', '.', '-', at most 32", printable(s))
	}
	return ""
}

func validAttr(s string) string {
	if !attrRe.MatchString(s) {
		return fmt.Sprintf("%s is not a valid flake attribute name: use letters, digits and . _ @ + -", printable(s))
	}
	return ""
}

// CheckBackupExtension says why s cannot be a backup extension ("" if it
// can), for the same rule on a flag (nixctl home switch --backup-ext).
func CheckBackupExtension(s string) string { return validExtension(s) }

func validExtension(s string) string {
	if !extRe.MatchString(s) {
		return fmt.Sprintf("%s is not a valid backup extension: use letters, digits, '.', '_' and '-'", printable(s))
	}
	return ""
}

func validRebuild(s string) string {
	switch s {
	case "auto", "bash", "ng":
		return ""
	}
	return fmt.Sprintf("%s must be auto, bash or ng", printable(s))
}

// validAddress accepts an IPv4 or IPv6 address or a DNS name.
func validAddress(s string) string {
	if ip := net.ParseIP(s); ip != nil {
		return ""
	}
	bad := fmt.Sprintf("%s is not an IP address or DNS name", printable(s))
	if len(s) > 253 {
		return bad
	}
	for _, label := range strings.Split(strings.TrimSuffix(s, "."), ".") {
		if len(label) > 63 || !labelRe.MatchString(label) {
			return bad
		}
	}
	return ""
}

func validUserAtAddress(s string) string {
	user, addr, ok := strings.Cut(s, "@")
	if !ok {
		return "want user@address"
	}
	if msg := validUser(user); msg != "" {
		return msg
	}
	return validAddress(addr)
}

func validTCP(s string) string {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Sprintf("%s is not host:port", printable(s))
	}
	if msg := validAddress(host); msg != "" {
		return msg
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return fmt.Sprintf("port %s is out of range 1-65535", printable(port))
	}
	return ""
}

func validHTTP(s string) string {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Sprintf("%s is not an http:// or https:// URL", printable(s))
	}
	if msg := validAddress(u.Hostname()); msg != "" {
		return msg
	}
	return ""
}

// validCommand accepts one line of shell for the remote host. The command is
// the user's own; it runs in the remote login shell as written, so only
// control characters that would split or hide it are refused.
func validCommand(s string) string {
	if strings.TrimSpace(s) == "" {
		return "the command is empty"
	}
	for _, r := range s {
		if r == '\n' || r == '\r' || r == 0 || (unicode.IsControl(r) && r != '\t') {
			return "the command must be one line without control characters"
		}
	}
	return ""
}

// validSSHOption accepts one ssh argument. NIX_SSHOPTS is split on spaces by
// nixos-rebuild and nix copy, so an option with spaces or quotes cannot pass
// through it intact: split it into separate list items instead.
func validSSHOption(s string) string {
	if s == "" {
		return "an ssh option is empty"
	}
	for _, r := range s {
		if unicode.IsSpace(r) || r == '"' || r == '\'' || r == '\\' || unicode.IsControl(r) {
			return fmt.Sprintf("%s has spaces, quotes or control characters; write each ssh argument as its own list item, e.g. [\"-o\", \"ConnectTimeout=10\"]", printable(s))
		}
	}
	return ""
}

func validPath(s string) string {
	for _, r := range s {
		if unicode.IsControl(r) {
			return "the path has control characters"
		}
	}
	if strings.HasPrefix(s, "-") {
		return fmt.Sprintf("%s starts with '-'", printable(s))
	}
	return ""
}

// validRelPath accepts a path inside the repository.
func validRelPath(s string) string {
	if msg := validPath(s); msg != "" {
		return msg
	}
	if filepath.IsAbs(s) {
		return fmt.Sprintf("%s must be relative to the repository", printable(s))
	}
	clean := filepath.Clean(s)
	if clean == ".." || strings.HasPrefix(clean, "../") {
		return fmt.Sprintf("%s leaves the repository", printable(s))
	}
	return ""
}

// printable quotes s so that control characters and look-alikes show.
func printable(s string) string {
	if len(s) > 80 {
		s = s[:80] + "…"
	}
	return strconv.QuoteToASCII(s)
}
