package cli

import (
	"context"
	"github.com/spf13/cobra"

	"github.com/nixctl/nixctl/internal/app"
	"github.com/nixctl/nixctl/internal/deploy"
	"github.com/nixctl/nixctl/internal/doctor"
	"github.com/nixctl/nixctl/internal/fault"
	"github.com/nixctl/nixctl/internal/inventory"
	"github.com/nixctl/nixctl/internal/remote"
	"github.com/nixctl/nixctl/internal/ui"
)

type doctorOptions struct {
	deps      *app.Deps
	selectors []string
	hosts     bool
}

func newDoctorCmd(deps *app.Deps) *cobra.Command {
	opts := &doctorOptions{deps: deps}
	cmd := &cobra.Command{
		Use:   "doctor [HOST...] [--hosts]",
		Short: "Check that this machine, the repository and the hosts have what nixctl needs",
		Long: `Check this machine and the repository: nix, its version and flakes, the
inventory and its flake.nix, git, nixos-rebuild and its flavour, home-manager,
an age key and whether it opens the fleet's sops files, SSH credentials.

With --hosts (every host) or HOST selectors (names, globs, @tag), also look
at each host over SSH, by the route deploy takes: reachable, host key known,
nix present, sudo as the inventory says, nixos-rebuild's flavour, free space
on /nix. Nothing is changed anywhere.

One line per finding, with a hint for each problem; --json prints the same.
Exits 1 when a finding fails (nixctl could not do its job), 0 with warnings.`,
		ValidArgsFunction: completeNames(deps, completeHosts),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.selectors = args
			return runDoctor(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&opts.hosts, "hosts", false, "also check every host of the inventory over SSH")
	return cmd
}

func runDoctor(ctx context.Context, opts *doctorOptions) error {
	deps := opts.deps
	fleet, fleetErr := deps.Fleet()
	env := doctor.Env{Runner: deps.Runner(), Home: deps.Home(), Keys: secretsEnv(deps), SSHAuthSock: deps.Env.SSHAuthSock, Fleet: fleet, FleetErr: fleetErr}
	// Without an inventory there are no hosts to look at; the inventory
	// finding says why.
	if (opts.hosts || len(opts.selectors) > 0) && fleetErr == nil {
		hosts, err := fleet.SelectHosts(opts.selectors, opts.hosts)
		if err != nil {
			return err
		}
		ssh, err := deps.SSH()
		if err != nil {
			return err
		}
		env.Hosts, env.Connector, env.Parallel = doctorHosts(fleet, hosts, ssh), ssh, fleet.Defaults.Parallel
	}
	findings := doctor.Run(ctx, env)
	return render(deps, doctorResult{findings, !doctor.Failed(findings)})
}

// doctorResult is a line per finding, with a hint for each problem.
type doctorResult struct {
	Findings []doctor.Finding `json:"findings"`
	OK       bool             `json:"ok"`
}

func (r doctorResult) verdict() error {
	if !r.OK {
		return Silent(fault.Failure) // each failed finding printed its hint
	}
	return nil
}

func (r doctorResult) text(io *ui.IO) {
	rows := make([][]string, len(r.Findings))
	for i, f := range r.Findings {
		name := f.Name
		if f.Host != "" {
			name = f.Host + ": " + f.Name
		}
		hint := ""
		if f.Status != doctor.OK && f.Hint != "" {
			hint = "hint: " + f.Hint
		}
		rows[i] = []string{mark(io, f.Status), name, f.Detail, hint}
	}
	io.Table(nil, rows)
}

// doctorHosts are the hosts as deploy would reach them: its plan gives each
// host's SSH route, so doctor follows the same one.
func doctorHosts(fleet *inventory.Fleet, hosts []inventory.Host, routes remote.Router) []doctor.Host {
	out := make([]doctor.Host, len(hosts))
	o := deploy.Options{Action: "switch"}
	for i, h := range hosts {
		out[i].Host = h
		plan, err := deploy.NewPlan(fleet, []inventory.Host{h}, o, routes)
		if err != nil {
			out[i].Err = err
			continue
		}
		out[i].Route, out[i].Elevate = plan.Hosts[0].Route, plan.Hosts[0].Elevate
	}
	return out
}

func mark(io *ui.IO, status string) string {
	switch status {
	case doctor.OK:
		return io.OK()
	case doctor.Warn:
		return io.Paint(ui.Yellow, "!")
	}
	return io.Fail()
}
