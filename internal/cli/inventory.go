package cli

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/nixctl/nixctl/internal/app"
	"github.com/nixctl/nixctl/internal/check"
	"github.com/nixctl/nixctl/internal/fault"
	"github.com/nixctl/nixctl/internal/inventory"
)

func newInventoryCmd(deps *app.Deps) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "inventory",
		Aliases: []string{"inv"},
		Short:   "List, show, check, write and sync the hosts and profiles of nixctl.yaml",
	}
	cmd.AddCommand(newInventoryListCmd(deps), newInventoryShowCmd(deps), newInventoryCheckCmd(deps),
		newInventoryInitCmd(deps), newInventorySyncCmd(deps))
	return cmd
}

type inventoryListOptions struct{ deps *app.Deps }

func newInventoryListCmd(deps *app.Deps) *cobra.Command {
	opts := &inventoryListOptions{deps: deps}
	return &cobra.Command{
		Use:   "list",
		Short: "List hosts and profiles",
		Args:  noArgs,
		RunE:  func(cmd *cobra.Command, args []string) error { return runInventoryList(opts) },
	}
}

func runInventoryList(opts *inventoryListOptions) error {
	fleet, err := opts.deps.Fleet()
	if err != nil {
		return err
	}
	io := opts.deps.IO
	if opts.deps.Config.JSON {
		return io.PrintJSON(struct {
			Flake    string              `json:"flake"`
			Hosts    []inventory.Host    `json:"hosts"`
			Profiles []inventory.Profile `json:"profiles"`
		}{fleet.Flake, nonNil(fleet.Hosts), nonNil(fleet.Profiles)})
	}
	var rows [][]string
	// The target is where nixctl will reach the host, ~/.ssh/config
	// included; what cannot be resolved is shown as written.
	ssh, sshErr := opts.deps.SSH()
	for _, h := range fleet.Hosts {
		target := h.Target() + portSuffix(h.Port)
		if sshErr == nil {
			if r, err := ssh.HostRoute(fleet.Dir, &h, ""); err == nil {
				target = r.String()
			}
		}
		rows = append(rows, []string{"host", h.Name, target, "nixosConfigurations." + h.Attr, tagList(h.Tags)})
	}
	for _, p := range fleet.Profiles {
		where := "local"
		if p.Host != "" {
			where = p.Host
		}
		if p.User != "" {
			where = p.User + "@" + where
		}
		rows = append(rows, []string{"profile", p.Name, where, "homeConfigurations." + p.Attr, tagList(p.Tags)})
	}
	io.Table([]string{"kind", "name", "target", "attribute", "tags"}, rows)
	return nil
}

type inventoryShowOptions struct {
	deps *app.Deps
	name string
}

func newInventoryShowCmd(deps *app.Deps) *cobra.Command {
	opts := &inventoryShowOptions{deps: deps}
	return &cobra.Command{
		Use:               "show NAME",
		Short:             "Show one host or profile with every inherited setting",
		ValidArgsFunction: completeNames(deps, completeHosts|completeProfiles),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return fault.Usagef("nixctl inventory show NAME", "name one host or profile")
			}
			opts.name = args[0]
			return runInventoryShow(opts)
		},
	}
}

func runInventoryShow(opts *inventoryShowOptions) error {
	fleet, err := opts.deps.Fleet()
	if err != nil {
		return err
	}
	io := opts.deps.IO
	if h, ok := fleet.Host(opts.name); ok {
		if opts.deps.Config.JSON {
			return io.PrintJSON(struct {
				Kind string `json:"kind"`
				*inventory.Host
			}{"host", h})
		}
		rows := [][]string{
			{"kind", "host"}, {"name", h.Name}, {"address", h.Address}, {"port", sshDefault(h.Port != 0, strconv.Itoa(h.Port), "22")},
			{"user", sshDefault(h.User != "", h.User, "root")}, {"sudo", strconv.FormatBool(h.Sudo)}, {"attribute", "nixosConfigurations." + h.Attr},
			{"tags", tagList(h.Tags)}, {"buildHost", orDash(h.BuildHost)}, {"sshOptions", orDash(strings.Join(h.SSHOptions, " "))},
			{"rebuild", h.Rebuild},
		}
		if h.Identity != "" {
			rows = append(rows, []string{"identity", h.Identity})
		}
		for _, c := range h.Health {
			target := c.Target()
			if c.HTTP != "" {
				target += " (expect " + strconv.Itoa(c.ExpectStatus) + ")"
			}
			rows = append(rows, []string{"health." + c.Kind(), target})
		}
		io.Table(nil, rows)
		return nil
	}
	if p, ok := fleet.Profile(opts.name); ok {
		if opts.deps.Config.JSON {
			return io.PrintJSON(struct {
				Kind string `json:"kind"`
				*inventory.Profile
			}{"profile", p})
		}
		io.Table(nil, [][]string{
			{"kind", "profile"}, {"name", p.Name}, {"attribute", "homeConfigurations." + p.Attr},
			{"user", orDash(p.User)}, {"host", orDefault(p.Host, "this machine")},
			{"backupExtension", orDash(p.BackupExtension)}, {"tags", tagList(p.Tags)},
		})
		return nil
	}
	var names []string
	for _, h := range fleet.Hosts {
		names = append(names, h.Name)
	}
	for _, p := range fleet.Profiles {
		names = append(names, p.Name)
	}
	hint := "'nixctl inventory list' shows every name"
	if c := inventory.Closest(opts.name, names, 3); len(c) > 0 {
		hint = "did you mean " + strings.Join(c, " or ") + "?"
	}
	return fault.Usagef(hint, "no host or profile named %q", opts.name)
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func tagList(tags []string) string {
	if len(tags) == 0 {
		return "-"
	}
	return "@" + strings.Join(tags, ",@")
}

func portSuffix(p int) string {
	if p == 22 || p == 0 {
		return ""
	}
	return ":" + strconv.Itoa(p)
}

func orDash(s string) string { return orDefault(s, "-") }

// sshDefault shows an inventory value, or says that ssh's configuration
// decides when nixctl.yaml leaves it unset.
func sshDefault(set bool, v, def string) string {
	if set {
		return v
	}
	return "(~/.ssh/config, else " + def + ")"
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

type inventoryCheckOptions struct {
	deps   *app.Deps
	noEval bool
}

func newInventoryCheckCmd(deps *app.Deps) *cobra.Command {
	opts := &inventoryCheckOptions{deps: deps}
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Validate nixctl.yaml and compare it with the flake's outputs",
		Long: `Validate nixctl.yaml (every problem is listed with its line), then list the
flake's nixosConfigurations and homeConfigurations with nix eval: an inventory
entry whose attribute the flake lacks is an error; flake outputs that no entry
names are listed for information.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return runInventoryCheck(cmd.Context(), opts) },
	}
	cmd.Flags().BoolVar(&opts.noEval, "no-eval", false, "validate the file only; do not run nix")
	return cmd
}

func runInventoryCheck(ctx context.Context, opts *inventoryCheckOptions) error {
	deps := opts.deps
	fleet, err := deps.Fleet()
	if err != nil {
		return err
	}
	io := deps.IO
	summary := fmt.Sprintf("%s: %s, %s", fleet.File, countOf(len(fleet.Hosts), "host"), countOf(len(fleet.Profiles), "profile"))
	if opts.noEval {
		if deps.Config.JSON {
			return io.PrintJSON(map[string]any{"ok": true, "file": fleet.File, "hosts": len(fleet.Hosts), "profiles": len(fleet.Profiles)})
		}
		io.Printf("%s valid %s\n", io.OK(), summary)
		return nil
	}
	if err := requireNix(deps, "install Nix, or pass --no-eval to validate the file alone"); err != nil {
		return err
	}
	agree, err := check.Agree(ctx, deps.Runner(), fleet)
	if err != nil {
		return fault.New(fault.Check, err, fault.HintOf(err))
	}
	if deps.Config.JSON {
		if err := io.PrintJSON(map[string]any{"ok": len(agree.Missing) == 0, "file": fleet.File, "hosts": len(fleet.Hosts), "profiles": len(fleet.Profiles), "missing": agree.Missing, "unlisted": agree.Unlisted}); err != nil {
			return err
		}
	} else {
		if len(agree.Missing) == 0 {
			io.Printf("%s valid %s, all found in the flake\n", io.OK(), summary)
		}
		for _, m := range agree.Unlisted {
			io.Printf("- %s is in the flake but not in the inventory\n", m)
		}
	}
	if len(agree.Missing) > 0 {
		if deps.Config.JSON {
			return Silent(fault.Inventory)
		}
		lines := make([]string, len(agree.Missing))
		for i, m := range agree.Missing {
			lines[i] = fmt.Sprintf("%s:%d: %s", fleet.File, m.Line, m)
		}
		return fault.Newf(fault.Inventory, "fix attr: in nixctl.yaml, or add the output to flake.nix",
			"the inventory and the flake disagree:\n  %s", strings.Join(lines, "\n  "))
	}
	return nil
}

// countOf is "1 host" or "3 hosts".
func countOf(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}
