package cli

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/nixctl/nixctl/internal/app"
	"github.com/nixctl/nixctl/internal/check"
	"github.com/nixctl/nixctl/internal/fault"
	"github.com/nixctl/nixctl/internal/inventory"
	"github.com/nixctl/nixctl/internal/nix"
	"github.com/nixctl/nixctl/internal/ui"
)

type checkOptions struct {
	deps      *app.Deps
	selectors []string
	all       bool
	noBuild   bool
	keepGoing bool
	evalJobs  int
	nixArgs   []string
}

func newCheckCmd(deps *app.Deps) *cobra.Command {
	opts := &checkOptions{deps: deps}
	cmd := &cobra.Command{
		Use:   "check [SELECTOR...] [-- NIX_ARGS...]",
		Short: "Run nix flake check and evaluate every host and profile",
		Long: `Run nix flake check and, beside it, evaluate the system of every selected
host (nixosConfigurations.<attr>.config.system.build.toplevel.drvPath) and the
activation package of every selected profile, all in one nix process (per
chunk of 100 items), so what they share is evaluated once.
With no selector, everything in the inventory is evaluated. Each item passes
or fails with nix's error parsed to file, line, column and message.

Selectors: a name, a glob such as 'nixos-*', or @tag. Arguments after -- go to nix.`,
		ValidArgsFunction: completeNames(deps, completeHosts|completeProfiles),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.selectors, opts.nixArgs = splitDash(cmd, args)
			return runCheck(cmd.Context(), opts)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&opts.all, "all", false, "check every host and profile (the default without selectors)")
	f.BoolVar(&opts.noBuild, "no-build", false, "do not build the flake's checks (nix flake check --no-build)")
	f.BoolVar(&opts.keepGoing, "keep-going", false, "let nix flake check go on after a failed build")
	addEvalJobsFlag(f, &opts.evalJobs)
	return cmd
}

// splitDash separates selectors from the arguments after "--".
func splitDash(cmd *cobra.Command, args []string) (before, after []string) {
	if i := cmd.ArgsLenAtDash(); i >= 0 {
		return args[:i], args[i:]
	}
	return args, nil
}

// selectBoth loads the inventory and picks hosts and profiles for
// selectors that may name either. With no selector, everything is selected.
func selectBoth(deps *app.Deps, selectors []string, all bool) (*inventory.Fleet, []inventory.Host, []inventory.Profile, error) {
	fleet, err := deps.Fleet()
	if err != nil {
		return nil, nil, nil, err
	}
	if len(selectors) == 0 || all {
		if all && len(selectors) > 0 {
			return nil, nil, nil, fault.Usagef("drop the names, or drop --all", "--all takes no names as well")
		}
		return fleet, fleet.Hosts, fleet.Profiles, nil
	}
	var hosts []inventory.Host
	var profiles []inventory.Profile
	for _, sel := range selectors {
		h, herr := fleet.SelectHosts([]string{sel}, false)
		p, perr := fleet.SelectProfiles([]string{sel}, false)
		if herr != nil && perr != nil {
			return nil, nil, nil, herr
		}
		hosts = appendNew(hosts, h, func(h inventory.Host) string { return h.Name })
		profiles = appendNew(profiles, p, func(p inventory.Profile) string { return p.Name })
	}
	return fleet, hosts, profiles, nil
}

// appendNew appends the items of src whose name dst does not have yet.
func appendNew[T any](dst, src []T, name func(T) string) []T {
	for _, s := range src {
		if !slices.ContainsFunc(dst, func(d T) bool { return name(d) == name(s) }) {
			dst = append(dst, s)
		}
	}
	return dst
}

func runCheck(ctx context.Context, opts *checkOptions) error {
	deps := opts.deps
	fleet, hosts, profiles, err := selectBoth(deps, opts.selectors, opts.all)
	if err != nil {
		return err
	}
	if err := requireNix(deps, ""); err != nil {
		return err
	}
	if err := checkEvalJobs(opts.evalJobs); err != nil {
		return err
	}
	copts := check.Options{Hosts: hosts, Profiles: profiles, NoBuild: opts.noBuild, KeepGoing: opts.keepGoing, Extra: opts.nixArgs, EvalJobs: opts.evalJobs}
	if deps.Config.DryRun {
		for _, c := range check.Plan(fleet, copts) {
			deps.IO.Printf("%s\n", c.String())
		}
		return nil
	}
	rep, err := check.Run(ctx, deps.Runner(), fleet, copts, newCheckProgress(deps.IO))
	if err != nil {
		return err
	}
	return render(deps, checkResult{rep})
}

// checkResult is an item per host and profile: passed, or failed with
// nix's error located.
type checkResult struct{ *check.Report }

func (r checkResult) json() any { return okFirst{r.OK(), r.Report} }

func (r checkResult) verdict() error {
	failed := r.Failed()
	if len(failed) == 0 {
		return nil
	}
	names := make([]string, len(failed))
	for i, f := range failed {
		names[i] = f.Name
	}
	first := failed[0]
	hint := "fix the first error and run 'nixctl check' again; add -v to see every nix command"
	if len(first.Errors) > 0 && nix.IsFetchError(first.Errors[0].Message) {
		hint = "the flake's inputs could not be fetched: run 'nix flake lock' with network access (then the store has them), or check your network and substituters"
	}
	return fault.Newf(fault.Check, hint,
		"check failed for %s: %s", strings.Join(names, ", "), first.Summary())
}

func (r checkResult) text(io *ui.IO) {
	var rows [][]string
	for _, it := range r.Items {
		mark, detail := io.OK(), it.DrvPath
		if !it.OK {
			mark, detail = io.Fail(), it.Summary()
		}
		rows = append(rows, []string{mark, it.Kind, it.Name, detail, it.Duration.Round(time.Millisecond).String()})
	}
	io.Table([]string{"", "kind", "name", "result", "time"}, rows)
}

// checkProgress prints one line per finished item on stderr.
type checkProgress struct {
	io *ui.IO
	mu sync.Mutex
}

func newCheckProgress(io *ui.IO) *checkProgress { return &checkProgress{io: io} }

func (p *checkProgress) Started(kind, name string) {
	p.io.Debugf("checking %s %s", kind, name)
}

func (p *checkProgress) Finished(it check.Item) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.io.Logf("%s %s %s (%s)", p.io.Mark(it.OK), it.Kind, it.Name, it.Duration.Round(time.Millisecond))
	if !it.OK {
		for _, e := range it.Errors {
			p.io.Logf("    %s", e.String())
		}
	}
}
