package inventory

import (
	"errors"
	"strings"
	"testing"
)

// FuzzParse: any input either parses into a fleet whose every name and
// address passed validation, or fails with a *ValidationError; never a panic.
func FuzzParse(f *testing.F) {
	f.Add([]byte(good))
	f.Add([]byte("hosts:\n  - {name: a, address: h}\n"))
	f.Add([]byte("hosts: [[[[[]]]]]\n"))
	f.Add([]byte("hosts:\n  - name: &a x\n    address: *a\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		fleet, err := Parse("nixctl.yaml", data)
		if err != nil {
			var ve *ValidationError
			if !errors.As(err, &ve) || len(ve.Problems) == 0 {
				t.Fatalf("error is not a validation error with problems: %v", err)
			}
			return
		}
		for _, h := range fleet.Hosts {
			if validName(h.Name) != "" || validAddress(h.Address) != "" || strings.HasPrefix(h.Address, "-") {
				t.Fatalf("invalid host accepted: %+v", h)
			}
			for _, o := range h.SSHOptions {
				if strings.ContainsAny(o, " \t\n'\"\\") {
					t.Fatalf("ssh option with spaces or quotes accepted: %q", o)
				}
			}
		}
		for _, p := range fleet.Profiles {
			if validName(p.Name) != "" {
				t.Fatalf("invalid profile accepted: %+v", p)
			}
		}
	})
}

// FuzzSelect: selectors never panic, and a successful selection only
// returns hosts of the fleet, each once.
func FuzzSelect(f *testing.F) {
	for _, s := range []string{"nixos-mini", "nixos-*", "@cluster", "[a-", "@", "", "*", "gate?ay"} {
		f.Add(s)
	}
	fleet, err := Parse("/r/nixctl.yaml", []byte(`
hosts:
  - {name: nixos-mini, address: a, tags: [cluster, k0s]}
  - {name: nixos-node-1, address: b, tags: [cluster]}
  - {name: gateway, address: c, tags: [edge]}
`))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, sel string) {
		hosts, err := fleet.SelectHosts([]string{sel}, false)
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, h := range hosts {
			if _, ok := fleet.Host(h.Name); !ok || seen[h.Name] {
				t.Fatalf("selection %q returned %q", sel, h.Name)
			}
			seen[h.Name] = true
		}
	})
}
