package inventory

import (
	"fmt"
	"path"
	"strings"

	"github.com/bmatcuk/doublestar/v4"
	"go.yaml.in/yaml/v3"
)

// secretGlobs reads a list of path globs naming sops files, each checked so
// that it stays inside the repository and parses as a glob.
func (d *decoder) secretGlobs(n *yaml.Node, field string) []string {
	globs := d.strs(n, field)
	for i, g := range globs {
		item := n
		if i < len(n.Content) {
			item = n.Content[i]
		}
		if msg := validSecretGlob(g); msg != "" {
			d.addf(item.Line, fmt.Sprintf("%s[%d]", field, i), "%s", msg)
		}
	}
	return globs
}

func validSecretGlob(g string) string {
	switch {
	case g == "":
		return "an empty glob matches nothing"
	case strings.ContainsFunc(g, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return fmt.Sprintf("%s contains a control character", printable(g))
	case strings.HasPrefix(g, "/") || strings.Contains(g, `\`):
		return fmt.Sprintf("%s must be relative to the repository, with / separators (secrets/server/**)", printable(g))
	case path.Clean(g) != strings.TrimSuffix(g, "/") || g == "." || strings.HasPrefix(g, "../") || g == "..":
		return fmt.Sprintf("%s must be a clean path inside the repository (no . or .. parts)", printable(g))
	case !doublestar.ValidatePattern(g):
		return fmt.Sprintf("%s is not a valid glob (*, ?, [a-z], {a,b} and ** are allowed)", printable(g))
	}
	return ""
}

// validRecipientName accepts what .sops.yaml takes as an anchor name.
func validRecipientName(s string) string {
	if !nameRe.MatchString(s) {
		return fmt.Sprintf("%s is not a valid recipient name: use letters, digits, '.', '_' and '-'", printable(s))
	}
	return ""
}

// SecretGlobs are the globs of the sops files h decrypts, and whether the
// inventory named them; a host that says nothing gets the layout nixctl init
// writes: the servers' secrets, never the users' kubeconfigs.
func (f *Fleet) SecretGlobs(h *Host) ([]string, bool) {
	if h.Secrets != nil {
		return h.Secrets, true
	}
	dir := path.Clean(f.Secrets.Dir)
	return []string{dir + "/server.yaml", dir + "/server/**", dir + "/hosts/" + h.Name + "/**"}, false
}

// ProfileSecretGlobs are the globs of the sops files p decrypts; a profile
// that says nothing gets its own machine's files: home.yaml and the
// kubeconfigs, as nixctl init lays them out.
func (f *Fleet) ProfileSecretGlobs(p *Profile) ([]string, bool) {
	if p.Secrets != nil {
		return p.Secrets, true
	}
	dir := path.Clean(f.Secrets.Dir)
	return []string{dir + "/home.yaml", dir + "/kubeconfig/**"}, false
}

// MatchSecretGlob reports whether rel (a path relative to the fleet
// directory, / separated) matches glob.
func MatchSecretGlob(glob, rel string) bool {
	ok, err := doublestar.Match(glob, rel)
	return err == nil && ok
}
