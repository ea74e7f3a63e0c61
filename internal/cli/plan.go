package cli

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/nixctl/nixctl/internal/app"
	"github.com/nixctl/nixctl/internal/deploy"
	"github.com/nixctl/nixctl/internal/fault"
	"github.com/nixctl/nixctl/internal/inventory"
	"github.com/nixctl/nixctl/internal/nix"
	"github.com/nixctl/nixctl/internal/ui"
)

func newPlanCmd(deps *app.Deps) *cobra.Command {
	opts := &deployOptions{deps: deps, action: "switch", planOnly: true}
	cmd := &cobra.Command{
		Use:   "plan [SELECTOR...] [--all]",
		Short: "Build the selected hosts and show what a deploy would change on each, without changing anything",
		Long: `Do what nixctl deploy does up to the build (check, preflight over SSH,
one nix build), then compare each host's running system (/run/current-system,
read over SSH) with the new one: packages added, removed and changed with
their versions and the closure size change (nix store diff-closures), whether
a reboot is needed (kernel, initrd, kernel modules or systemd changed), and
the units nixos-rebuild dry-activate says would stop, restart, reload or
start. Then a table for the fleet. Nothing is activated and no lock is taken.

nixctl deploy --diff shows the same plan, asks once, and deploys the hosts
that changed.

Exit codes: as nixctl deploy (0 every host planned, 5 some failed, 10 all
failed, 4 the check failed, 9 the build failed, 130 interrupted).`,
		ValidArgsFunction: completeNames(deps, completeHosts),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.selectors = args
			return runDeploy(cmd.Context(), opts)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&opts.all, "all", false, "plan every host of the inventory")
	f.IntVar(&opts.parallel, "parallel", 0, "hosts compared at once (default: defaults.parallel of the inventory)")
	f.BoolVar(&opts.noCheck, "no-check", false, "skip the check stage")
	f.StringVar(&opts.buildHost, "build-host", "", "build on this host (inventory name or user@address) instead of here")
	f.DurationVar(&opts.timeout, "timeout", 0, "limit for each host's preflight and for its comparison, e.g. 10m (0: none)")
	addEvalJobsFlag(f, &opts.evalJobs)
	return cmd
}

// addRolloutFlags adds deploy's batch, canary and cache flags.
func addRolloutFlags(cmd *cobra.Command, opts *deployOptions) {
	f := cmd.Flags()
	f.StringVar(&opts.batch, "batch", "", "activate N hosts at a time, or N% of them, stopping at the first batch with a failed or rolled back host (default: defaults.batch)")
	f.StringArrayVar(&opts.canary, "canary", nil, "activate these hosts (a selector) first; the others only if every canary is healthy")
	f.StringVar(&opts.cache, "cache", "", "push the built systems to this binary cache (nix copy --to URL) before activation; hosts substitute from it (default: defaults.cache)")
}

// rolloutOptions checks the batch, canary and cache flags and fills them in
// from the inventory's defaults.
func rolloutOptions(opts *deployOptions, fleet *inventory.Fleet, hosts []inventory.Host, o *deploy.Options) error {
	o.Batch = fleet.Defaults.Batch
	if opts.batch != "" {
		b, problem := inventory.ParseBatch(opts.batch)
		if problem != "" {
			return fault.Usagef("pass a number of hosts (--batch 5) or a percentage (--batch 25%)", "--batch: %s", problem)
		}
		o.Batch = b
	}
	// A plan changes nothing, so it pushes nothing to the cache either.
	if !opts.planOnly {
		o.Cache = fleet.Defaults.Cache
	}
	if opts.cache != "" {
		if problem := inventory.CheckCacheURL(opts.cache); problem != "" {
			return fault.Usagef("pass a store URL nix copy --to takes, e.g. file:///srv/nix-cache or s3://bucket", "--cache: %s", problem)
		}
		o.Cache = opts.cache
	}
	if len(opts.canary) > 0 {
		canaries, err := fleet.SelectHosts(opts.canary, false)
		if err != nil {
			return err
		}
		for _, c := range canaries {
			if slices.ContainsFunc(hosts, func(h inventory.Host) bool { return h.Name == c.Name }) {
				o.Canary = append(o.Canary, c.Name)
			}
		}
		if len(o.Canary) == 0 {
			return fault.Usagef("a canary is one of the hosts being deployed: name one of "+hostNames(hosts),
				"--canary %s selects none of the hosts being deployed", strings.Join(opts.canary, " "))
		}
		if len(o.Canary) == len(hosts) {
			return fault.Usagef("leave some hosts out of --canary: they are deployed once every canary is healthy",
				"--canary %s selects every host being deployed", strings.Join(opts.canary, " "))
		}
	}
	return nil
}

// approvePlan shows the plan (on stdout, or stderr when stdout is for
// --json) and asks once, under the usual --yes and terminal rules.
func approvePlan(deps *app.Deps, progress *ui.Progress, action string) func([]deploy.HostResult) error {
	return func(plan []deploy.HostResult) error {
		var err error
		progress.Pause(func() {
			// Not a result: what is approved is shown before the question,
			// on stderr when stdout is for the document, and not at all
			// when --json --yes asks nothing.
			out := deps.IO
			if deps.Config.JSON {
				out = deps.IO.OnErr()
			}
			if !deps.Config.JSON || !deps.Config.Yes {
				renderPlan(out, plan)
			}
			var names []string
			for _, h := range plan {
				if h.Result == "" {
					names = append(names, h.Host)
				}
			}
			err = deps.RequireYes(fmt.Sprintf("%s %s?", action, joinNames(names)))
		})
		return err
	}
}

// reportPlan prints what nixctl plan found, or the same as --json; each
// host that failed says why on stderr either way.
func reportPlan(deps *app.Deps, rep *deploy.Report) error {
	err := render(deps, planResult{deployResult{rep}})
	if err != nil && !errors.Is(err, errSilent) {
		return err
	}
	for _, h := range rep.Hosts {
		if !h.OK() && h.Error != "" {
			printFailure(deps.IO, "nixctl: error:", h.Host+": "+h.Error, h.Hint)
		}
	}
	return err
}

// planResult is what a deploy would change on each host.
type planResult struct{ deployResult }

func (r planResult) text(io *ui.IO) { renderPlan(io, r.Hosts) }

// renderPlan writes each changed host's packages, then one table for the
// fleet: what changes, the closure size, reboot, and the units touched.
func renderPlan(out *ui.IO, hosts []deploy.HostResult) {
	for _, h := range hosts {
		d := h.Diff
		if d == nil || d.Change != deploy.DiffChanged && len(d.Packages) == 0 {
			continue
		}
		fmt.Fprintf(out.Out, "%s: %s\n", h.Host, planSummary(d))
		for _, c := range d.Packages {
			fmt.Fprintf(out.Out, "  %s\n", c)
		}
		if d.Note != "" {
			fmt.Fprintf(out.Out, "  (%s)\n", d.Note)
		}
	}
	rows := make([][]string, 0, len(hosts))
	for _, h := range hosts {
		d := h.Diff
		if d == nil {
			state := h.Result
			if h.Stage != "" && h.Stage != deploy.StageDone {
				state += " at " + h.Stage
			}
			rows = append(rows, []string{h.Host, state, "-", "-", "-", "-"})
			continue
		}
		pkgs := fmt.Sprintf("+%d -%d ~%d", d.Added, d.Removed, d.Changed)
		size := nix.FormatSizeDelta(d.ClosureSizeDelta)
		if d.Change == deploy.DiffUnchanged {
			pkgs, size = "-", "-"
		}
		reboot := "no"
		if d.RebootNeeded {
			reboot = "yes (" + strings.Join(d.RebootReasons, ", ") + ")"
		}
		rows = append(rows, []string{h.Host, d.Change, pkgs, size, reboot, unitsSummary(d.Units)})
	}
	out.Table([]string{"host", "plan", "packages", "closure", "reboot", "units"}, rows)
}

func planSummary(d *deploy.HostDiff) string {
	parts := []string{fmt.Sprintf("%d added, %d removed, %d changed, closure %s", d.Added, d.Removed, d.Changed, nix.FormatSizeDelta(d.ClosureSizeDelta))}
	if d.RebootNeeded {
		parts = append(parts, "reboot needed ("+strings.Join(d.RebootReasons, ", ")+" changed)")
	}
	if u := unitsSummary(d.Units); u != "-" {
		parts = append(parts, u)
	}
	return strings.Join(parts, "; ")
}

// unitsSummary says what activation would do to units, verb by verb.
func unitsSummary(u *nix.UnitChanges) string {
	if u == nil {
		return "-"
	}
	if u.Empty() {
		return "none"
	}
	var parts []string
	add := func(verb string, units []string) {
		if len(units) > 0 {
			parts = append(parts, verb+" "+joinNames(units))
		}
	}
	add("restart", u.Restart)
	add("stop", u.Stop)
	add("start", u.Start)
	add("reload", u.Reload)
	if u.RestartSystemd {
		parts = append(parts, "re-execute systemd")
	}
	return strings.Join(parts, "; ")
}

// joinNames lists names, the first eight of them when there are more.
func joinNames(names []string) string {
	if len(names) > 8 {
		return fmt.Sprintf("%s and %d more", strings.Join(names[:8], ", "), len(names)-8)
	}
	return strings.Join(names, ", ")
}
