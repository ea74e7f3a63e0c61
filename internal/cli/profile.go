package cli

import (
	"context"
	"github.com/spf13/cobra"

	"github.com/nixctl/nixctl/internal/app"
	"github.com/nixctl/nixctl/internal/fault"
	"github.com/nixctl/nixctl/internal/scaffold"
)

func newProfileCmd(deps *app.Deps) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "profile",
		Short: "Add Home Manager profiles to the repository",
	}
	cmd.AddCommand(newProfileAddCmd(deps))
	return cmd
}

type profileAddOptions struct {
	deps *app.Deps
	spec scaffold.ProfileSpec
}

func newProfileAddCmd(deps *app.Deps) *cobra.Command {
	opts := &profileAddOptions{deps: deps}
	cmd := &cobra.Command{
		Use:   "add NAME",
		Short: "Add a Home Manager profile: home/NAME.nix, its flake.nix entry and its nixctl.yaml entry",
		Long: `Add a Home Manager profile: home/NAME.nix (importing home/common.nix, or
home/server/common.nix with --host), the homeConfigurations entry in flake.nix
(above its '# nixctl:add-profile' line) and the inventory entry at the end of
nixctl.yaml's profiles, keeping the file's comments and order. A name that
exists is refused; nothing is written unless every part can be.`,
		Example: `  nixctl profile add work-laptop --tags workstations
  nixctl profile add node-1 --host nixos-node-1`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return fault.Usagef("nixctl profile add NAME", "name one profile")
			}
			opts.spec.Name = args[0]
			return runProfileAdd(cmd.Context(), opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.spec.User, "user", "", "the profile's user (default: the inventory's defaults.user)")
	f.StringVar(&opts.spec.Host, "host", "", "a host of the inventory the profile runs on (default: this machine)")
	f.StringSliceVar(&opts.spec.Tags, "tags", nil, "tags for selectors (@tag), comma-separated")
	return cmd
}

func runProfileAdd(ctx context.Context, opts *profileAddOptions) error {
	dir, err := repoDir(opts.deps)
	if err != nil {
		return err
	}
	plan, err := scaffold.PlanProfile(dir, opts.spec)
	if err != nil {
		return scaffoldError(err)
	}
	return applyAdd(ctx, opts.deps, plan, "profile", opts.spec.Name, "edit home/"+opts.spec.Name+".nix, then 'nixctl check "+opts.spec.Name+"'")
}
