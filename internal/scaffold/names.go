// Package scaffold writes the fleet repository of nix/template (nixctl init)
// and adds hosts and profiles to one (nixctl host add, profile add). It
// computes every file first and writes only when nothing would be
// overwritten, so a refused command changes nothing.
package scaffold

import (
	"errors"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"

	"github.com/nixctl/nixctl/internal/inventory"
)

// Names are what the template is specialised with.
type Names struct {
	// User is the login account on every machine (home.username, the
	// servers' users.users entry, nixctl.yaml's defaults.user).
	User string
	// Host is the first NixOS server; Address is how nixctl reaches it.
	Host    string
	Address string
	// Release is the NixOS / Home Manager release, e.g. "25.05".
	Release string
	// Recipient is the user's age recipient, written into .sops.yaml; ""
	// keeps the template's.
	Recipient string
}

// TemplateNames are the values written in nix/template itself, so that the
// template is a working repository as it stands (nix flake init -t) and each
// value is replaced by the user's own on nixctl init.
var TemplateNames = Names{User: "gabriel", Host: "nixos-mini", Address: "192.168.1.20", Release: "25.05",
	// A key whose secret half was thrown away: the template's .sops.yaml is
	// valid as it stands, and nobody can read what is encrypted for it.
	Recipient: "age1evfyysx2wk7q33x756y03x089rv4qjwzc0hlv0v5vrf9wmcwxp5q6yu5gc"}

// DefaultRelease is the release the template's option names were checked against.
const DefaultRelease = "25.05"

var releaseRe = regexp.MustCompile(`^([0-9]{2})\.(05|11)$`)

var recipientRe = regexp.MustCompile(`^age1[02-9ac-hj-np-z]+$`)

// Validate checks every name with the inventory's own rules, and the release.
func (n Names) Validate() error {
	var errs []error
	if msg := inventory.CheckUser(n.User); msg != "" {
		errs = append(errs, fmt.Errorf("--user: %s", msg))
	} else if n.User == "root" {
		errs = append(errs, errors.New("--user: root cannot be the fleet's user (Home Manager and the servers' login account need a normal user)"))
	}
	if msg := inventory.CheckName(n.Host); msg != "" {
		errs = append(errs, fmt.Errorf("--host: %s", msg))
	} else if msg := checkNixName(n.Host); msg != "" {
		errs = append(errs, fmt.Errorf("--host: %s", msg))
	}
	if msg := inventory.CheckAddress(n.Address); msg != "" {
		errs = append(errs, fmt.Errorf("--address: %s", msg))
	}
	if msg := CheckRelease(n.Release); msg != "" {
		errs = append(errs, fmt.Errorf("--release: %s", msg))
	}
	if n.Recipient != "" && !recipientRe.MatchString(n.Recipient) {
		errs = append(errs, fmt.Errorf("%s is not an age recipient", strconv.Quote(n.Recipient)))
	}
	return joinErrors(errs)
}

// CheckRelease accepts NixOS releases from 25.05 on (YY.05 or YY.11): the
// template uses option names that older releases lack (zsh initContent).
func CheckRelease(r string) string {
	m := releaseRe.FindStringSubmatch(r)
	if m == nil {
		return fmt.Sprintf("%s is not a NixOS release: want YY.05 or YY.11, e.g. 25.05", strconv.Quote(r))
	}
	if yy, _ := strconv.Atoi(m[1]); yy < 25 {
		return fmt.Sprintf("%s is older than 25.05, the first release with the options the template uses", strconv.Quote(r))
	}
	return ""
}

// checkNixName refuses names that would be awkward as a hostname or a Nix
// file name: networking.hostName takes letters, digits and '-'.
func checkNixName(s string) string {
	for _, r := range s {
		if !hostNameRune(r) {
			return fmt.Sprintf("%s is not a valid host name for NixOS: use letters, digits and '-'", strconv.Quote(s))
		}
	}
	if strings.HasSuffix(s, "-") {
		return fmt.Sprintf("%s ends with '-'", strconv.Quote(s))
	}
	return ""
}

// hostPort joins an address and a port the way URLs and host:port want it.
func hostPort(addr string, port int) string {
	return net.JoinHostPort(addr, strconv.Itoa(port))
}

// renamedAfter2505 are the option and package names the template writes for
// 25.05 that later releases renamed (NIX-OPTIONS.md, checked against Home
// Manager release-25.11): the old names only warn there, or are gone.
var renamedAfter2505 = []string{
	"  nixGL.packages = ", "  targets.genericLinux.nixGL.packages = ",
	"  nixGL.defaultWrapper = ", "  targets.genericLinux.nixGL.defaultWrapper = ",
	"    userName = ", "    settings.user.name = ",
	"    userEmail = ", "    settings.user.email = ",
	"pkgs.nixfmt-rfc-style;", "pkgs.nixfmt;",
}

// replacer maps the template's values to n's. Longer tokens come first:
// strings.Replacer tries them in argument order at each position, and an
// IPv6 address needs brackets before a port.
func (n Names) replacer() *strings.Replacer {
	t := TemplateNames
	pairs := []string{
		// The host's attribute in flake.nix, quoted when it starts with a digit.
		t.Host + ` = mkHost "` + t.Host + `"`, nixAttr(n.Host) + ` = mkHost "` + n.Host + `"`,
		hostPort(t.Address, 22), hostPort(n.Address, 22),
		"http://" + hostPort(t.Address, 9100), "http://" + hostPort(n.Address, 9100),
		t.Address, n.Address,
		t.Host, n.Host,
		t.User, n.User,
		t.Release, n.Release,
	}
	if n.Release != t.Release {
		pairs = append(renamedAfter2505, pairs...)
	}
	if n.Recipient != "" {
		pairs = append([]string{t.Recipient, n.Recipient}, pairs...)
	}
	return strings.NewReplacer(pairs...)
}

// joinErrors keeps several refusals on one line, as nixctl's errors are.
func joinErrors(errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	msgs := make([]string, len(errs))
	for i, e := range errs {
		msgs[i] = e.Error()
	}
	return errors.New(strings.Join(msgs, "; "))
}

func hostNameRune(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-'
}
