package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/nixctl/nixctl/internal/app"
	"github.com/nixctl/nixctl/internal/deploy"
	"github.com/nixctl/nixctl/internal/fault"
	"github.com/nixctl/nixctl/internal/hostops"
	"github.com/nixctl/nixctl/internal/ui"
)

type statusOptions struct {
	deps      *app.Deps
	selectors []string
	all       bool
	noEval    bool
	parallel  int
	evalJobs  int
}

func newStatusCmd(deps *app.Deps) *cobra.Command {
	opts := &statusOptions{deps: deps}
	cmd := &cobra.Command{
		Use:   "status [SELECTOR...|--all]",
		Short: "Show what each host runs and whether it is behind the flake",
		Long: `Ask each selected host over SSH, in parallel: is it reachable, its NixOS
version, the current and booted system, whether a reboot is needed (kernel,
initrd or modules differ), the current generation and its date, and the last
nixctl deploy (from the record its lock leaves on the host). Unless --no-eval,
evaluate what the flake builds for each host now and report drift: "up to
date" or "behind". With no selector every host is shown.

Exits 0 when every host answered, 5 when some did not, 10 when none did.`,
		ValidArgsFunction: completeNames(deps, completeHosts),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.selectors = args
			return runStatus(cmd.Context(), opts)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&opts.all, "all", false, "every host (the default without selectors)")
	f.BoolVar(&opts.noEval, "no-eval", false, "do not evaluate the flake (no drift)")
	f.IntVar(&opts.parallel, "parallel", 0, "hosts asked at once (default: 16, or defaults.parallel when larger)")
	addEvalJobsFlag(f, &opts.evalJobs)
	return cmd
}

func runStatus(ctx context.Context, opts *statusOptions) error {
	deps := opts.deps
	fleet, err := deps.Fleet()
	if err != nil {
		return err
	}
	hosts := fleet.Hosts
	if len(opts.selectors) > 0 || opts.all {
		if hosts, err = fleet.SelectHosts(opts.selectors, opts.all); err != nil {
			return err
		}
	}
	if len(hosts) == 0 {
		return fault.Newf(fault.Inventory, "add hosts: to nixctl.yaml", "the inventory has no hosts")
	}
	if err := checkEvalJobs(opts.evalJobs); err != nil {
		return err
	}
	if !opts.noEval {
		if err := requireNix(deps, ""); err != nil {
			return err
		}
	}
	parallel := opts.parallel
	if parallel <= 0 {
		// Status only reads: ask more hosts at once than a deploy would.
		parallel = max(fleet.Defaults.Parallel, 16)
	}
	ssh, err := deps.SSH()
	if err != nil {
		return err
	}
	sts := deploy.Status(ctx, deps.Runner(), deps.Hosts(ssh), ssh, fleet, hosts,
		deploy.StatusOptions{Parallel: parallel, NoEval: opts.noEval, EvalJobs: opts.evalJobs})
	return render(deps, statusResult{sts, ctx.Err() != nil})
}

// statusResult is what each host runs and whether it is behind the flake.
type statusResult struct {
	hosts       []deploy.HostStatus
	interrupted bool
}

func (r statusResult) json() any { return r.hosts }

func (r statusResult) verdict() error {
	failed := 0
	for _, s := range r.hosts {
		if !s.Reachable {
			failed++
		}
	}
	if kind := fault.Outcome(len(r.hosts), failed, r.interrupted); kind != fault.OK {
		return Silent(kind) // each host that did not answer says why
	}
	return nil
}

func (r statusResult) text(io *ui.IO) {
	rows := make([][]string, len(r.hosts))
	for i, s := range r.hosts {
		rows[i] = statusRow(s)
	}
	io.Table([]string{"host", "reachable", "nixos", "generation", "reboot", "drift", "last deploy"}, rows)
	for _, s := range r.hosts {
		if w := s.PendingRollback; w != nil {
			io.Printf("%s\n", watchdogLine(s.Host, w))
		}
	}
	for _, s := range r.hosts {
		if s.Error != "" {
			printFailure(io, "nixctl: error:", s.Host+": "+s.Error, s.Hint)
		}
	}
}

func statusRow(s deploy.HostStatus) []string {
	if !s.Reachable {
		return []string{s.Host, "no", "-", "-", "-", s.Drift, lastDeploy(s)}
	}
	gen := "-"
	if s.Generation > 0 {
		gen = fmt.Sprint(s.Generation)
		if !s.GenerationDate.IsZero() {
			gen += " (" + s.GenerationDate.Local().Format("2006-01-02 15:04") + ")"
		}
	}
	reboot := "no"
	if s.RebootNeeded {
		reboot = "yes"
	}
	return []string{s.Host, "yes", orDash(s.NixOSVersion), gen, reboot, s.Drift, lastDeploy(s)}
}

func lastDeploy(s deploy.HostStatus) string {
	switch {
	case s.Locked != nil:
		return fmt.Sprintf("running: %s by %s since %s", s.Locked.Action, s.Locked.Who, s.Locked.Started.Local().Format(time.DateTime))
	case s.LastDeploy != nil:
		l := s.LastDeploy
		out := fmt.Sprintf("%s %s by %s at %s", l.Action, l.Result, l.Who, l.Finished.Local().Format(time.DateTime))
		if l.GitRev != "" {
			out += " (" + l.GitRev + ")"
		}
		return out
	}
	return "-"
}

// watchdogLine says what a magic-rollback watchdog left on a host will do
// (or did), and where to look at it.
func watchdogLine(host string, w *hostops.PendingWatchdog) string {
	where := "a detached process"
	if w.Unit != "" {
		where = "unit " + w.Unit + " (systemctl status " + w.Unit + ")"
	} else if w.PID > 0 {
		where = fmt.Sprintf("process %d", w.PID)
	}
	back := "the generation before"
	if w.Generation > 0 {
		back = fmt.Sprintf("generation %d", w.Generation)
	}
	if !w.Fired.IsZero() {
		return fmt.Sprintf("%s: magic rollback of run %s went back to %s at %s", host, w.RunID, back, w.Fired.Local().Format(time.DateTime))
	}
	return fmt.Sprintf("%s: magic rollback pending for run %s (%s, armed %s): unless confirmed within %ds of its activation, the host goes back to %s",
		host, w.RunID, where, w.Armed.Local().Format(time.DateTime), w.Confirm, back)
}
