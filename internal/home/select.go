// Package home runs Home Manager profiles: it builds their activation
// packages, switches them here (through home-manager) or on a host of the
// fleet (nix copy, then the generation's activate script over SSH), shows
// what a switch would change, lists generations and rolls back.
package home

import (
	"strings"

	"github.com/nixctl/nixctl/internal/fault"
	"github.com/nixctl/nixctl/internal/inventory"
)

// Who is the user and machine nixctl runs as, for picking a profile.
type Who struct {
	User     string
	Hostname string
}

// ShortHostname is the hostname up to its first dot.
func (w Who) ShortHostname() string {
	h, _, _ := strings.Cut(w.Hostname, ".")
	return h
}

// AutoSelect picks the profile meant for this machine when none is named,
// in home-manager's order: the profile whose attr is USER@hostname, else the
// one named after the short hostname, else the only profile. Anything else
// is a usage error that lists the profiles and names one for command (the
// home subcommand that asked).
func AutoSelect(profiles []inventory.Profile, who Who, command string) (inventory.Profile, error) {
	short := who.ShortHostname()
	if who.User != "" {
		for _, h := range []string{who.Hostname, short} {
			if h == "" {
				continue
			}
			for _, p := range profiles {
				if p.Attr == who.User+"@"+h {
					return p, nil
				}
			}
		}
	}
	if short != "" {
		for _, p := range profiles {
			if p.Name == short {
				return p, nil
			}
		}
	}
	if len(profiles) == 1 {
		return profiles[0], nil
	}
	if len(profiles) == 0 {
		return inventory.Profile{}, fault.Usagef("add a profile under profiles: in nixctl.yaml", "the inventory has no Home Manager profiles")
	}
	names := make([]string, len(profiles))
	for i, p := range profiles {
		names[i] = p.Name
	}
	return inventory.Profile{}, fault.Usagef("name one: nixctl home "+command+" "+names[0],
		"no profile for %s@%s (by attr %s@%s or name %s); profiles: %s",
		who.User, short, who.User, short, short, strings.Join(names, ", "))
}
