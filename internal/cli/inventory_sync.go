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
	"github.com/nixctl/nixctl/internal/ui"
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
	if err := s.Write(deps.Writer()); err != nil {
		return fault.New(fault.Failure, fmt.Errorf("writing %s: %w", inventory.FileName, err), "")
	}
	return render(deps, syncResult{Added: s.Added, DryRun: deps.Config.DryRun, File: filepath.Join(s.Dir, inventory.FileName), Gone: s.Gone, inventory: fleet.File})
}

// syncResult is what inventory sync added to nixctl.yaml, and the entries
// whose output the flake no longer has.
type syncResult struct {
	Added  []scaffold.Entry `json:"added"`
	DryRun bool             `json:"dryRun"`
	File   string           `json:"file"`
	Gone   []scaffold.Gone  `json:"gone"`
	// inventory is the file as the inventory names it, for the entries gone.
	inventory string
}

func (r syncResult) text(io *ui.IO) {
	if len(r.Added) == 0 {
		io.Printf("%s %s lists every output of the flake\n", io.OK(), inventory.FileName)
	} else {
		io.Printf("%s %s %s to %s\n", io.OK(), didOrWould(r.DryRun, "added", "would add"), entries(len(r.Added)), inventory.FileName)
		printEntries(io, "", r.Added)
	}
	for _, g := range r.Gone {
		out := "nixosConfigurations"
		if g.Kind == "profile" {
			out = "homeConfigurations"
		}
		io.Printf("- %s:%d: %s %q names %s.%s, which the flake no longer has\n", r.inventory, g.Line, g.Kind, g.Name, out, g.Attr)
	}
	if len(r.Gone) > 0 {
		io.Warnf("%s in %s no longer in the flake: remove them or fix their attr: by hand", entries(len(r.Gone)), inventory.FileName)
	}
}

// entries is "1 entry" or "3 entries".
func entries(n int) string {
	if n == 1 {
		return "1 entry"
	}
	return fmt.Sprintf("%d entries", n)
}
