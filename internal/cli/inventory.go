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
	"github.com/nixctl/nixctl/internal/ui"
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
	// The target is where nixctl will reach the host, ~/.ssh/config
	// included; what cannot be resolved is shown as written.
	target := func(h *inventory.Host) string {
		t := h.Target() + portSuffix(h.Port)
		if ssh, err := opts.deps.SSH(); err == nil {
			if r, err := ssh.HostRoute(fleet.Dir, h, ""); err == nil {
				t = r.String()
			}
		}
		return t
	}
	return render(opts.deps, inventoryList{fleet.Flake, nonNil(fleet.Hosts), nonNil(fleet.Profiles), target})
}

// inventoryList is every host and profile of the inventory.
type inventoryList struct {
	Flake    string              `json:"flake"`
	Hosts    []inventory.Host    `json:"hosts"`
	Profiles []inventory.Profile `json:"profiles"`
	// target is where nixctl reaches a host, asked only for the text.
	target func(*inventory.Host) string
}

func (l inventoryList) text(io *ui.IO) {
	var rows [][]string
	for _, h := range l.Hosts {
		rows = append(rows, []string{"host", h.Name, l.target(&h), "nixosConfigurations." + h.Attr, tagList(h.Tags)})
	}
	for _, p := range l.Profiles {
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
	if h, ok := fleet.Host(opts.name); ok {
		return render(opts.deps, hostShow{"host", h})
	}
	if p, ok := fleet.Profile(opts.name); ok {
		return render(opts.deps, profileShow{"profile", p})
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

// hostShow is one host with every setting it inherits.
type hostShow struct {
	Kind string `json:"kind"`
	*inventory.Host
}

func (s hostShow) text(io *ui.IO) {
	h := s.Host
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
}

// profileShow is one profile with every setting it inherits.
type profileShow struct {
	Kind string `json:"kind"`
	*inventory.Profile
}

func (s profileShow) text(io *ui.IO) {
	p := s.Profile
	io.Table(nil, [][]string{
		{"kind", "profile"}, {"name", p.Name}, {"attribute", "homeConfigurations." + p.Attr},
		{"user", orDash(p.User)}, {"host", orDefault(p.Host, "this machine")},
		{"backupExtension", orDash(p.BackupExtension)}, {"tags", tagList(p.Tags)},
	})
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
	res := inventoryCheck{file: fleet.File, hosts: len(fleet.Hosts), profiles: len(fleet.Profiles)}
	if opts.noEval {
		return render(deps, res)
	}
	if err := requireNix(deps, "install Nix, or pass --no-eval to validate the file alone"); err != nil {
		return err
	}
	if res.agree, err = check.Agree(ctx, deps.Runner(), fleet); err != nil {
		return fault.New(fault.Check, err, fault.HintOf(err))
	}
	return render(deps, res)
}

// inventoryCheck is the inventory's summary and, unless --no-eval, how it
// agrees with the flake's outputs.
type inventoryCheck struct {
	file            string
	hosts, profiles int
	// agree is nil when the flake was not evaluated.
	agree *check.Agreement
}

func (c inventoryCheck) json() any {
	doc := map[string]any{"ok": true, "file": c.file, "hosts": c.hosts, "profiles": c.profiles}
	if c.agree != nil {
		doc["ok"], doc["missing"], doc["unlisted"] = len(c.agree.Missing) == 0, c.agree.Missing, c.agree.Unlisted
	}
	return doc
}

func (c inventoryCheck) verdict() error {
	if c.agree == nil || len(c.agree.Missing) == 0 {
		return nil
	}
	lines := make([]string, len(c.agree.Missing))
	for i, m := range c.agree.Missing {
		lines[i] = fmt.Sprintf("%s:%d: %s", c.file, m.Line, m)
	}
	return fault.Newf(fault.Inventory, "fix attr: in nixctl.yaml, or add the output to flake.nix",
		"the inventory and the flake disagree:\n  %s", strings.Join(lines, "\n  "))
}

func (c inventoryCheck) text(io *ui.IO) {
	summary := fmt.Sprintf("%s: %s, %s", c.file, countOf(c.hosts, "host"), countOf(c.profiles, "profile"))
	if c.agree == nil {
		io.Printf("%s valid %s\n", io.OK(), summary)
		return
	}
	if len(c.agree.Missing) == 0 {
		io.Printf("%s valid %s, all found in the flake\n", io.OK(), summary)
	}
	for _, m := range c.agree.Unlisted {
		io.Printf("- %s is in the flake but not in the inventory\n", m)
	}
}

// countOf is "1 host" or "3 hosts".
func countOf(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}
