package cli

import (
	"context"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/nixctl/nixctl/internal/app"
	"github.com/nixctl/nixctl/internal/execx"
	"github.com/nixctl/nixctl/internal/fault"
	"github.com/nixctl/nixctl/internal/scaffold"
	"github.com/nixctl/nixctl/internal/ui"
	nixfiles "github.com/nixctl/nixctl/nix"
)

func newHostCmd(deps *app.Deps) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "host",
		Short: "Add NixOS hosts to the repository",
	}
	cmd.AddCommand(newHostAddCmd(deps))
	return cmd
}

type hostAddOptions struct {
	deps     *app.Deps
	spec     scaffold.HostSpec
	template fs.FS
}

func newHostAddCmd(deps *app.Deps) *cobra.Command {
	opts := &hostAddOptions{deps: deps, template: nixfiles.Template()}
	cmd := &cobra.Command{
		Use:   "add NAME --address ADDR",
		Short: "Add a NixOS host: hosts/NAME/, its flake.nix entry and its nixctl.yaml entry",
		Long: `Add a NixOS host to the repository: hosts/NAME/configuration.nix (importing
modules/server/*) with a stand-in hardware-configuration.nix, the
nixosConfigurations entry in flake.nix (above its '# nixctl:add-host' line) and
the inventory entry at the end of nixctl.yaml's hosts, keeping the file's
comments and order. A name that exists is refused; nothing is written unless
every part can be.`,
		Example: `  nixctl host add nixos-node-1 --address 192.168.1.21 --tags cluster,k0s`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return fault.Usagef("nixctl host add NAME --address ADDR", "name one host")
			}
			opts.spec.Name = args[0]
			return runHostAdd(cmd.Context(), opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.spec.Address, "address", "", "IP address or DNS name nixctl reaches the host at (required)")
	f.StringSliceVar(&opts.spec.Tags, "tags", nil, "tags for selectors (@tag), comma-separated")
	f.StringVar(&opts.spec.User, "user", "", "SSH user for this host (default: the inventory's defaults.user); the account must exist there")
	return cmd
}

func runHostAdd(ctx context.Context, opts *hostAddOptions) error {
	if opts.spec.Address == "" {
		return fault.Usagef("nixctl host add "+opts.spec.Name+" --address ADDR", "--address is required")
	}
	dir, err := repoDir(opts.deps)
	if err != nil {
		return err
	}
	plan, err := scaffold.PlanHost(dir, opts.template, opts.spec)
	if err != nil {
		return scaffoldError(err)
	}
	return applyAdd(ctx, opts.deps, plan, "host", opts.spec.Name,
		"replace hosts/"+opts.spec.Name+"/hardware-configuration.nix with the host's own, add your SSH key, then 'nixctl check "+opts.spec.Name+"'")
}

// repoDir is the directory of the inventory (and flake.nix) nixctl works on.
func repoDir(deps *app.Deps) (string, error) {
	p, err := deps.Config.FindInventory(deps.Cwd)
	if err != nil {
		return "", err
	}
	return filepath.Dir(p), nil
}

// applyAdd writes an add plan (unless --dry-run) and reports the files.
func applyAdd(ctx context.Context, deps *app.Deps, plan *scaffold.Plan, kind, name, next string) error {
	if err := plan.Apply(deps.Writer()); err != nil {
		return fault.New(fault.Failure, err, "")
	}
	var created, edited []string
	for _, f := range plan.Create {
		created = append(created, f.Path)
	}
	for _, f := range plan.Rewrite {
		edited = append(edited, f.Path)
	}
	staged, err := stageNewFiles(ctx, deps, plan.Dir, created)
	if err != nil {
		return err
	}
	return render(deps, addResult{Created: created, Dir: plan.Dir, DryRun: deps.Config.DryRun, Edited: edited, FlakeEntry: plan.FlakeEntry,
		GitIntentToAdd: staged, Kind: kind, Name: name, next: next})
}

// addResult is what host add or profile add wrote, or would write.
type addResult struct {
	Created        []string `json:"created"`
	Dir            string   `json:"dir"`
	DryRun         bool     `json:"dryRun"`
	Edited         []string `json:"edited"`
	FlakeEntry     string   `json:"flakeEntry"`
	GitIntentToAdd bool     `json:"gitIntentToAdd"`
	Kind           string   `json:"kind"`
	Name           string   `json:"name"`
	// next is what to do now.
	next string
}

func (r addResult) text(io *ui.IO) {
	io.Printf("%s %s %s %s\n", io.OK(), didOrWould(r.DryRun, "added", "would add"), r.Kind, r.Name)
	for _, p := range r.Created {
		io.Printf("  create %s\n", p)
	}
	for _, p := range r.Edited {
		io.Printf("  edit   %s\n", p)
	}
	if r.GitIntentToAdd && !r.DryRun {
		io.Printf("  git add --intent-to-add: the new files are tracked, so the flake sees them (commit them when ready)\n")
	}
	io.Logf("next: %s", r.next)
}

// stageNewFiles tells git about files an add wrote, when dir is in a git
// work tree: a flake there sees only tracked files, so without this the
// next 'nixctl check' fails with "No such file or directory". Intent-to-add
// makes them tracked without staging their content, leaving what to commit
// to the user. Without git, or outside a repository, it does nothing.
func stageNewFiles(ctx context.Context, deps *app.Deps, dir string, files []string) (bool, error) {
	r := deps.Runner()
	if len(files) == 0 {
		return false, nil
	}
	if _, err := r.LookPath("git"); err != nil {
		return false, nil
	}
	res, err := r.Run(ctx, execx.Cmd{Argv: []string{"git", "rev-parse", "--is-inside-work-tree"}, Dir: dir, ReadOnly: true})
	if err != nil || strings.TrimSpace(string(res.Stdout)) != "true" {
		return false, nil
	}
	argv := append([]string{"git", "add", "--intent-to-add", "--"}, files...)
	if _, err := r.Run(ctx, execx.Cmd{Argv: argv, Dir: dir, Stderr: deps.IO.Err}); err != nil {
		return false, fault.New(fault.Failure, fmt.Errorf("the files are written, but %w", err),
			"run 'git add "+strings.Join(files, " ")+"' in "+dir+": the flake sees only files git tracks")
	}
	return true, nil
}
