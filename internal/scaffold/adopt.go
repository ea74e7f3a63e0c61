package scaffold

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/nixctl/nixctl/internal/fsx"
	"github.com/nixctl/nixctl/internal/inventory"
)

// SSHHost is what the user's ssh configuration says about one host.
type SSHHost struct {
	// Alias is the Host pattern that matched.
	Alias    string
	HostName string
	Port     int
	User     string
	// ProxyJump is the first hop's name, when there is one.
	ProxyJump string
}

// describe says where the alias leads: user@hostname[:port] [via jump].
func (h SSHHost) describe() string {
	d := h.User + "@" + h.HostName
	if h.Port != 0 && h.Port != 22 {
		d += ":" + strconv.Itoa(h.Port)
	}
	if h.ProxyJump != "" {
		d += " via " + h.ProxyJump
	}
	return d
}

// SSHLookup finds the ssh configuration block for the first of names that
// one names (as its Host pattern or its HostName); ok is false when none does.
type SSHLookup func(names ...string) (h SSHHost, ok bool)

// Guess is one value nixctl inferred, and where from.
type Guess struct {
	Kind  string `json:"kind"`
	Name  string `json:"name"`
	Key   string `json:"key"`
	Value string `json:"value"`
	From  string `json:"from"`
}

// Entry is one host or profile written to the inventory.
type Entry struct {
	Kind    string  `json:"kind"`
	Name    string  `json:"name"`
	Attr    string  `json:"attr"`
	Guesses []Guess `json:"guesses"`
	fields  []field
}

// Adoption is the inventory written for an existing flake.
type Adoption struct {
	Dir     string  `json:"dir"`
	Entries []Entry `json:"entries"`
	Data    []byte  `json:"-"`
}

const adoptHeader = `# nixctl's inventory of this repository, written by 'nixctl init --adopt' from
# the flake's nixosConfigurations and homeConfigurations. Values marked
# "guessed" were inferred (from ~/.ssh/config or the flake's own settings):
# check them, then delete the comment. 'nixctl inventory sync' adds outputs
# added to the flake later; the README documents every key.
`

// PlanAdopt builds nixctl.yaml for the flake in dir from its evaluated
// outputs. It refuses when the inventory exists; it writes nothing itself.
func PlanAdopt(dir string, out *Outputs, lookup SSHLookup) (*Adoption, error) {
	if _, err := os.Lstat(filepath.Join(dir, inventory.FileName)); err == nil {
		return nil, &ExistsError{Kind: "inventory", Name: inventory.FileName, File: dir}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	a := &Adoption{Dir: dir}
	taken := map[string]bool{}
	var b strings.Builder
	b.WriteString(adoptHeader)
	if out.Partial != nil {
		fmt.Fprintf(&b, "# The flake's outputs could be listed but not evaluated, so nothing was\n# guessed from them: %s\n", oneLine(out.Partial.Error()))
	}
	if len(out.Hosts) > 0 {
		b.WriteString("\nhosts:\n")
		for _, attr := range sortedKeys(out.Hosts) {
			e := hostEntry(attr, out.Hosts[attr], lookup, taken)
			b.WriteString(strings.Join(renderEntry("  ", e.fields), "\n") + "\n")
			a.Entries = append(a.Entries, e)
		}
	}
	if len(out.Profiles) > 0 {
		b.WriteString("\nprofiles:\n")
		for _, attr := range sortedKeys(out.Profiles) {
			e := profileEntry(attr, out.Profiles[attr], taken)
			b.WriteString(strings.Join(renderEntry("  ", e.fields), "\n") + "\n")
			a.Entries = append(a.Entries, e)
		}
	}
	a.Data = []byte(b.String())
	if _, err := inventory.ParseAt(inventory.FileName, filepath.Join(dir, inventory.FileName), a.Data); err != nil {
		return nil, fmt.Errorf("the inventory written from the flake would not be valid (nothing was written): %w", err)
	}
	return a, nil
}

// hostEntry is the inventory entry of nixosConfigurations.<attr>.
func hostEntry(attr string, facts HostFacts, lookup SSHLookup, taken map[string]bool) Entry {
	e := Entry{Kind: "host", Name: uniqueName(entryName(attr), taken), Attr: attr}
	e.fields = []field{{Key: "name", Value: e.Name}, {Key: "attr", Value: attr}}
	guess := func(key, value, from string) {
		e.Guesses = append(e.Guesses, Guess{Kind: "host", Name: e.Name, Key: key, Value: value, From: from})
		e.fields = append(e.fields, field{Key: key, Value: value, Comment: "guessed: " + from})
	}
	var candidates []string
	for _, n := range []string{attr, facts.FQDN, facts.HostName} {
		if n != "" && !slices.Contains(candidates, n) {
			candidates = append(candidates, n)
		}
	}
	if lookup != nil {
		if h, ok := lookup(candidates...); ok && inventory.CheckAddress(h.Alias) == "" {
			// nixctl resolves the alias through ~/.ssh/config as ssh does:
			// HostName, Port, User, IdentityFile and ProxyJump stay there.
			guess("address", h.Alias, "Host "+h.Alias+" in ~/.ssh/config, "+h.describe())
			return e
		}
	}
	switch {
	case facts.FQDN != "" && inventory.CheckAddress(facts.FQDN) == "":
		guess("address", facts.FQDN, "networking.fqdn of nixosConfigurations."+nixAttr(attr))
	case facts.HostName != "" && inventory.CheckAddress(facts.HostName) == "":
		guess("address", facts.HostName, "networking.hostName of nixosConfigurations."+nixAttr(attr))
	case inventory.CheckAddress(attr) == "":
		guess("address", attr, "the output's name; nothing better was found, set the host's DNS name or IP")
	default:
		guess("address", e.Name, "nothing was found; set the host's DNS name or IP")
	}
	return e
}

// profileEntry is the inventory entry of homeConfigurations.<attr>.
func profileEntry(attr string, facts ProfileFacts, taken map[string]bool) Entry {
	e := Entry{Kind: "profile", Name: uniqueName(entryName(attr), taken), Attr: attr}
	e.fields = []field{{Key: "name", Value: e.Name}, {Key: "attr", Value: attr}}
	if u := facts.Username; u != "" && inventory.CheckUser(u) == "" {
		from := "home.username of homeConfigurations." + nixAttr(attr)
		e.Guesses = append(e.Guesses, Guess{Kind: "profile", Name: e.Name, Key: "user", Value: u, From: from})
		e.fields = append(e.fields, field{Key: "user", Value: u, Comment: "guessed: " + from})
	}
	return e
}

var notNameRe = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// entryName turns an output's name into an inventory name: "gabriel@laptop"
// is the profile laptop, as Home Manager's USER@HOST convention means.
func entryName(attr string) string {
	n := attr
	if _, host, ok := strings.Cut(attr, "@"); ok && host != "" {
		n = host
	}
	n = strings.Trim(notNameRe.ReplaceAllString(n, "-"), "-._")
	if len(n) > 60 {
		n = n[:60]
	}
	if n == "" || inventory.CheckName(n) != "" {
		n = "entry"
	}
	return n
}

// uniqueName adds -2, -3… when a name is taken (hosts and profiles share
// one namespace in selectors).
func uniqueName(n string, taken map[string]bool) string {
	name := n
	for i := 2; taken[name]; i++ {
		name = n + "-" + strconv.Itoa(i)
	}
	taken[name] = true
	return name
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

// Write creates nixctl.yaml through w; it never replaces one.
func (a *Adoption) Write(w fsx.Writer) error {
	return w.CreateFile(filepath.Join(a.Dir, inventory.FileName), a.Data, 0o644)
}
