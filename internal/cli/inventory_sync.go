package cli

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/nixctl/nixctl/internal/app"
	"github.com/nixctl/nixctl/internal/config"
	"github.com/nixctl/nixctl/internal/fault"
	"github.com/nixctl/nixctl/internal/inventory"
	"github.com/nixctl/nixctl/internal/scaffold"
)

func newInventorySyncCmd(deps *app.Deps) *cobra.Command {
	return &cobra.Command{
		Use:   "sync",
		Short: "Add the flake's new hosts and profiles to nixctl.yaml; list entries whose output is gone",
		Long: `Evaluate the flake once and append to nixctl.yaml every nixosConfigurations
and homeConfigurations output that no entry names, with the same guesses as
'nixctl init --adopt' (marked by comments). Existing entries, comments and
layout are left exactly as they are; entries whose output the flake no longer
has are listed, not removed (delete them, or fix their attr:, by hand).`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return runInventorySync(cmd.Context(), deps) },
	}
}

func runInventorySync(ctx context.Context, deps *app.Deps) error {
	fleet, err := deps.Fleet()
	if err != nil {
		return err
	}
	dir, ok := config.LocalFlakeDir(fleet.Flake, fleet.Dir)
	if !ok {
		return fault.Usagef("sync from a local clone of the flake", "the inventory's flake %s is not a local directory", fleet.Flake)
	}
	out, err := evalOutputs(ctx, deps, dir)
	if err != nil {
		return err
	}
	s, err := scaffold.PlanSync(fleet.Dir, out, sshConfigLookup(deps))
	if err != nil {
		return fault.New(fault.Inventory, err, "the new entries could not be placed in nixctl.yaml: add them by hand ('nixctl inventory check' lists the flake's outputs)")
	}
	if !deps.Config.DryRun {
		if err := s.Write(); err != nil {
			return fault.New(fault.Failure, fmt.Errorf("writing %s: %w", inventory.FileName, err), "")
		}
	}
	io := deps.IO
	if deps.Config.JSON {
		return io.PrintJSON(map[string]any{"file": filepath.Join(s.Dir, inventory.FileName), "added": s.Added, "gone": s.Gone, "dryRun": deps.Config.DryRun})
	}
	verb := "added"
	if deps.Config.DryRun {
		verb = "would add"
	}
	if len(s.Added) == 0 {
		io.Printf("%s %s lists every output of the flake\n", io.OK(), inventory.FileName)
	} else {
		io.Printf("%s %s %s to %s\n", io.OK(), verb, entries(len(s.Added)), inventory.FileName)
		printEntries(deps, "", s.Added)
	}
	for _, g := range s.Gone {
		out := "nixosConfigurations"
		if g.Kind == "profile" {
			out = "homeConfigurations"
		}
		io.Printf("- %s:%d: %s %q names %s.%s, which the flake no longer has\n", fleet.File, g.Line, g.Kind, g.Name, out, g.Attr)
	}
	if len(s.Gone) > 0 {
		io.Warnf("%s in %s no longer in the flake: remove them or fix their attr: by hand", entries(len(s.Gone)), inventory.FileName)
	}
	return nil
}

// entries is "1 entry" or "3 entries".
func entries(n int) string {
	if n == 1 {
		return "1 entry"
	}
	return fmt.Sprintf("%d entries", n)
}
