package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/nixctl/nixctl/internal/fault"
	"github.com/nixctl/nixctl/internal/inventory"
	"github.com/nixctl/nixctl/internal/nix"
)

// rebuildOwned are the nixos-rebuild flags nixctl sets itself, and what
// sets them instead.
var rebuildOwned = map[string]string{
	"--flake":           "the flake is the inventory's (flake: in nixctl.yaml, or --flake before --)",
	"--target-host":     "the target is each host's address in nixctl.yaml",
	"--build-host":      "pass --build-host before --, or set buildHost: in nixctl.yaml",
	"--use-remote-sudo": "sudo follows each host's user and sudo: in nixctl.yaml",
	"--sudo":            "sudo follows each host's user and sudo: in nixctl.yaml",
	"--rollback":        "use nixctl rollback",
	"--use-substitutes": "pass --substitute-on-target before --, or set defaults.substituteOnTarget",
	"--substitute":      "pass --substitute-on-target before --, or set defaults.substituteOnTarget",
	"-s":                "pass --substitute-on-target before --, or set defaults.substituteOnTarget",
}

// checkRebuildArgs refuses, among the arguments after "--", nixctl's own
// flags (put after "--" by mistake, they would reach nixos-rebuild) and the
// nixos-rebuild flags and actions nixctl sets itself.
func checkRebuildArgs(cmd *cobra.Command, args []string) error {
	for _, a := range args {
		name, _, _ := strings.Cut(a, "=")
		if fix, ok := rebuildOwned[name]; ok {
			return fault.Usagef(fix, "%s after -- would reach nixos-rebuild, but nixctl sets it", name)
		}
		if nix.IsAction(a) {
			return fault.Usagef("pass --action "+a+" before --", "%q after -- would be a second nixos-rebuild action", a)
		}
		if !strings.HasPrefix(name, "-") || name == "-" {
			continue
		}
		var f *pflag.Flag
		if strings.HasPrefix(name, "--") {
			f = lookupFlag(cmd, strings.TrimPrefix(name, "--"), "")
		} else if len(name) == 2 {
			f = lookupFlag(cmd, "", name[1:])
		}
		if f != nil {
			return fault.Usagef("put nixctl's own flags before --: nixctl deploy "+a+" SELECTOR -- ARGS",
				"%s after -- is nixctl's flag --%s, not nixos-rebuild's", a, f.Name)
		}
	}
	return nil
}

// lookupFlag finds a flag of cmd or of its parents by long or short name.
func lookupFlag(cmd *cobra.Command, long, short string) *pflag.Flag {
	for _, fs := range []*pflag.FlagSet{cmd.Flags(), cmd.InheritedFlags()} {
		if long != "" {
			if f := fs.Lookup(long); f != nil {
				return f
			}
		} else if f := fs.ShorthandLookup(short); f != nil {
			return f
		}
	}
	return nil
}

// checkBuildHost accepts a host of the inventory or user@address.
func checkBuildHost(fleet *inventory.Fleet, bh string) error {
	if _, ok := fleet.Host(bh); ok || validUserAtAddress(bh) {
		return nil
	}
	names := make([]string, len(fleet.Hosts))
	for i, h := range fleet.Hosts {
		names[i] = h.Name
	}
	hint := "name a host of nixctl.yaml ('nixctl inventory list' shows them) or give user@address"
	if c := inventory.Closest(bh, names, 1); len(c) > 0 {
		hint = fmt.Sprintf("did you mean --build-host %s? Otherwise %s", c[0], hint)
	}
	return fault.Usagef(hint, "--build-host %q is neither a host of the inventory nor user@address", bh)
}
