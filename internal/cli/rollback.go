package cli

import (
	"github.com/spf13/cobra"

	"github.com/nixctl/nixctl/internal/app"
	"github.com/nixctl/nixctl/internal/fault"
)

func newRollbackCmd(deps *app.Deps) *cobra.Command {
	opts := &deployOptions{deps: deps, action: "switch", rollback: true}
	cmd := &cobra.Command{
		Use:   "rollback HOST... [--to GENERATION]",
		Short: "Switch hosts back to their previous (or a given) system generation",
		Long: `Switch the selected hosts back to their previous system generation
(nixos-rebuild switch --rollback --target-host …), or with --to to the given
generation of /nix/var/nix/profiles/system (nix-env --switch-generation, then
switch-to-configuration switch, over SSH). The same preflight, lock, health
checks, summary and exit codes as nixctl deploy; asks for confirmation unless
--yes.`,
		ValidArgsFunction: completeNames(deps, completeHosts),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return fault.Usagef("name the hosts to roll back, e.g. nixctl rollback web-1", "rollback needs at least one host")
			}
			if cmd.Flags().Changed("to") && opts.to < 1 {
				return fault.Usagef("nixctl status shows each host's current generation", "--to %d is not a generation number", opts.to)
			}
			opts.selectors = args
			return runDeploy(cmd.Context(), opts)
		},
	}
	f := cmd.Flags()
	f.IntVar(&opts.to, "to", 0, "generation to switch to (default: the previous one)")
	f.IntVar(&opts.parallel, "parallel", 0, "hosts rolled back at once (default: defaults.parallel of the inventory)")
	f.BoolVar(&opts.failFast, "fail-fast", false, "stop every host at the first failure")
	f.DurationVar(&opts.timeout, "timeout", 0, "limit for each host's preflight and rollback with health checks (0: none)")
	f.BoolVar(&opts.breakLock, "break-lock", false, "remove a lock left by another deploy before taking it")
	return cmd
}
