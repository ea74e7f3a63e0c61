package cli

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/nixctl/nixctl/internal/app"
	"github.com/nixctl/nixctl/internal/fault"
	"github.com/nixctl/nixctl/internal/home"
	"github.com/nixctl/nixctl/internal/inventory"
	"github.com/nixctl/nixctl/internal/nix"
	"github.com/nixctl/nixctl/internal/ui"
)

type homeOptions struct {
	deps *app.Deps
	// command is the subcommand's name, for hints (nixctl home COMMAND).
	command   string
	selectors []string
	all       bool
	diff      bool
	backupExt string
	// backupExtSet: --backup-ext was given, possibly as "" (no backups).
	backupExtSet bool
	to           int
	parallel     int
	hmArgs       []string
}

func newHomeCmd(deps *app.Deps) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "home",
		Short: "Build, switch, compare and roll back Home Manager profiles, here and on hosts",
		Long: `Home Manager profiles of the inventory (profiles: in nixctl.yaml). A profile
without host: is switched on this machine through home-manager; a profile with
host: is built here, copied to that host with nix copy and activated there over
SSH as the profile's user.

Without a PROFILE, nixctl picks the profile whose attr is $USER@hostname, else
the one named after the short hostname, else the only profile (home-manager's
own order).`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return cmd.Help()
			}
			hint := "see 'nixctl home --help'"
			if sug := cmd.SuggestionsFor(args[0]); len(sug) > 0 {
				hint = "did you mean 'nixctl home " + sug[0] + "'?"
			}
			return fault.Usagef(hint, "unknown command %q for nixctl home", args[0])
		},
	}
	cmd.SuggestionsMinimumDistance = 2
	cmd.AddCommand(
		newHomeSwitchCmd(deps),
		newHomeBuildCmd(deps),
		newHomeDiffCmd(deps),
		newHomeGenerationsCmd(deps),
		newHomeRollbackCmd(deps),
	)
	return cmd
}

func newHomeSwitchCmd(deps *app.Deps) *cobra.Command {
	opts := &homeOptions{deps: deps, command: "switch"}
	cmd := &cobra.Command{
		Use:   "switch [PROFILE...] [-- HOME_MANAGER_ARGS...]",
		Short: "Build and activate profiles (home-manager switch, or activate over SSH)",
		Long: `Build the selected profiles' generations in one nix build, look for files
home-manager would refuse to overwrite, then switch: home-manager switch --flake
FLAKE#ATTR -b EXT here (nix run --inputs-from FLAKE home-manager when it is not
on PATH); for a profile with a host: nix copy there, then the generation's
activate script over SSH as the profile's user. Several profiles switch in parallel and end with a summary.

PROFILE is a name, a glob or @tag. Arguments after -- go to home-manager.`,
		ValidArgsFunction: completeNames(deps, completeProfiles),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.selectors, opts.hmArgs = splitDash(cmd, args)
			opts.backupExtSet = cmd.Flags().Changed("backup-ext")
			return runHomeSwitch(cmd.Context(), opts)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&opts.all, "all", false, "switch every profile")
	f.IntVar(&opts.parallel, "parallel", 0, "profiles of remote hosts switched at once (default: defaults.parallel of nixctl.yaml)")
	f.BoolVar(&opts.diff, "diff", false, "show what changes and ask before switching (--yes skips the question)")
	f.StringVarP(&opts.backupExt, "backup-ext", "b", "", "move files in the way to FILE.EXT (home-manager -b); default: the profile's backupExtension; '' for none")
	return cmd
}

func newHomeBuildCmd(deps *app.Deps) *cobra.Command {
	opts := &homeOptions{deps: deps, command: "build"}
	cmd := &cobra.Command{
		Use:   "build [PROFILE...]",
		Short: "Build profiles' activation packages in one nix build",
		Long: `Build the activation packages of the selected profiles
(FLAKE#homeConfigurations."ATTR".activationPackage) in one nix build --no-link
and print each generation's store path. Nothing is activated.`,
		ValidArgsFunction: completeNames(deps, completeProfiles),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.selectors = args
			return runHomeBuild(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&opts.all, "all", false, "build every profile")
	return cmd
}

func newHomeDiffCmd(deps *app.Deps) *cobra.Command {
	opts := &homeOptions{deps: deps, command: "diff"}
	cmd := &cobra.Command{
		Use:   "diff [PROFILE]",
		Short: "Show what switching a profile would change",
		Long: `Build the profile's new generation and compare it with the current one
(the home-manager profile under ~/.local/state/nix/profiles, here or on the
profile's host) with nix store diff-closures: packages added, removed and
changed with their versions, and the change of the closure's size. --json
prints the same as a document.`,
		Args:              maxArgs(1),
		ValidArgsFunction: completeNames(deps, completeProfiles),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.selectors = args
			return runHomeDiff(cmd.Context(), opts)
		},
	}
	return cmd
}

func newHomeGenerationsCmd(deps *app.Deps) *cobra.Command {
	opts := &homeOptions{deps: deps, command: "generations"}
	return &cobra.Command{
		Use:   "generations [PROFILE]",
		Short: "List a profile's generations",
		Long: `List the generations of a profile (nix-env --list-generations on its
home-manager profile, here or over SSH on the profile's host), marking the
current one.`,
		Args:              maxArgs(1),
		ValidArgsFunction: completeNames(deps, completeProfiles),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.selectors = args
			return runHomeGenerations(cmd.Context(), opts)
		},
	}
}

func newHomeRollbackCmd(deps *app.Deps) *cobra.Command {
	opts := &homeOptions{deps: deps, command: "rollback"}
	cmd := &cobra.Command{
		Use:   "rollback [PROFILE] [--to N]",
		Short: "Go back to an earlier generation of a profile",
		Long: `Make an earlier generation of a profile current again and run its activation
(Home Manager's documented rollback), here or over SSH on the profile's host:
the one before the current generation, or generation N with --to N. When the
activation fails, the profile is switched back.`,
		Args:              maxArgs(1),
		ValidArgsFunction: completeNames(deps, completeProfiles),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.selectors = args
			return runHomeRollback(cmd.Context(), opts)
		},
	}
	cmd.Flags().IntVar(&opts.to, "to", 0, "the generation to go back to (see nixctl home generations)")
	return cmd
}

func maxArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) > n {
			return fault.Usagef("see '"+cmd.CommandPath()+" --help'", "%s takes at most %d argument(s), got %q", cmd.CommandPath(), n, strings.Join(args, " "))
		}
		return nil
	}
}

// homeEnv is what package home needs, taken from deps, with live progress
// for the profiles named; close it before printing results.
func homeEnv(deps *app.Deps, fleet *inventory.Fleet, profiles ...inventory.Profile) (*home.Env, *ui.Progress) {
	names := make([]string, len(profiles))
	for i, p := range profiles {
		names[i] = p.Name
	}
	progress := ui.NewProgress(deps.IO, names)
	return &home.Env{
		Runner:    deps.Runner(),
		Fleet:     fleet,
		Who:       who(deps),
		Home:      deps.Home(),
		StateHome: deps.Env.StateHome,
		Err:       deps.IO.Err,
		Remote:    newHomeRemote(deps, fleet),
		Events:    progress,
	}, progress
}

func who(deps *app.Deps) home.Who {
	h, _ := os.Hostname()
	return home.Who{User: deps.UserName(), Hostname: h}
}

// selectHomeProfiles resolves selectors; none picks this machine's profile.
func selectHomeProfiles(opts *homeOptions, fleet *inventory.Fleet, selectors []string, all bool) ([]inventory.Profile, error) {
	if len(selectors) == 0 && !all {
		p, err := home.AutoSelect(fleet.Profiles, who(opts.deps), opts.command)
		if err != nil {
			return nil, err
		}
		return []inventory.Profile{p}, nil
	}
	return fleet.SelectProfiles(selectors, all)
}

// oneProfile resolves the one profile a command works on.
func oneProfile(opts *homeOptions, fleet *inventory.Fleet, selectors []string) (inventory.Profile, error) {
	ps, err := selectHomeProfiles(opts, fleet, selectors, false)
	if err != nil {
		return inventory.Profile{}, err
	}
	if len(ps) != 1 {
		return inventory.Profile{}, fault.Usagef("name one profile", "%q selects %d profiles; this command works on one", strings.Join(selectors, " "), len(ps))
	}
	return ps[0], nil
}

func runHomeBuild(ctx context.Context, opts *homeOptions) error {
	deps := opts.deps
	fleet, err := deps.Fleet()
	if err != nil {
		return err
	}
	profiles, err := selectHomeProfiles(opts, fleet, opts.selectors, opts.all)
	if err != nil {
		return err
	}
	if err := requireNix(deps, ""); err != nil {
		return err
	}
	names := make([]string, len(profiles))
	for i, p := range profiles {
		names[i] = p.Name
	}
	deps.IO.Logf("building %s", strings.Join(names, ", "))
	built, err := home.Build(ctx, deps.Runner(), fleet, profiles, nil)
	// A dry run printed its steps, and one profile that failed has only its
	// error to show; of several, what was built is printed even when one
	// failed.
	if built == nil || deps.Config.DryRun || len(built) == 1 && err != nil {
		return err
	}
	return render(deps, homeBuilt{built, err})
}

// homeBuilt is each profile's new generation, or why it was not built.
type homeBuilt struct {
	built []home.Built
	err   error
}

func (b homeBuilt) json() any      { return b.built }
func (b homeBuilt) verdict() error { return b.err }

func (b homeBuilt) text(io *ui.IO) {
	rows := make([][]string, len(b.built))
	for i, x := range b.built {
		rows[i] = []string{x.Profile, cmp.Or(x.Path, "✗ "+x.Error)}
	}
	io.Table([]string{"profile", "generation"}, rows)
}

func runHomeSwitch(ctx context.Context, opts *homeOptions) error {
	deps := opts.deps
	fleet, err := deps.Fleet()
	if err != nil {
		return err
	}
	if opts.parallel < 0 {
		return fault.Usagef("--parallel 1 switches one profile at a time", "--parallel %d is not a number of profiles", opts.parallel)
	}
	if opts.backupExt != "" {
		if msg := inventory.CheckBackupExtension(opts.backupExt); msg != "" {
			return fault.Usagef("for example --backup-ext hm-bak", "--backup-ext: %s", msg)
		}
	}
	profiles, err := selectHomeProfiles(opts, fleet, opts.selectors, opts.all)
	if err != nil {
		return err
	}
	if err := requireNix(deps, ""); err != nil {
		return err
	}
	env, progress := homeEnv(deps, fleet, profiles...)
	so := home.SwitchOptions{BackupExt: opts.backupExt, OverrideBackupExt: opts.backupExtSet, Diff: opts.diff, Extra: opts.hmArgs, DryRun: deps.Config.DryRun}
	targets, err := env.Prepare(ctx, profiles, so)
	progress.Close()
	if err != nil {
		return err
	}
	// Not printing: with --json the problem is the one result of the
	// document, which the run goes on to print.
	if len(targets) == 1 && !deps.Config.JSON {
		if err := targets[0].Problem(); err != nil {
			return err // before any question: nothing would switch
		}
	}
	if opts.diff { // with --dry-run, the question is a printed step (Deps.RequireYes)
		var diffs []*home.Diff
		for _, t := range targets {
			if t.Diff != nil {
				diffs = append(diffs, t.Diff)
			}
		}
		// Not a result: the diffs are shown before the question; with
		// --json each result of the document carries its diff.
		if !deps.Config.JSON {
			homeDiffs(diffs).text(deps.IO)
		}
		if err := deps.RequireYes(fmt.Sprintf("switch %s?", strings.Join(profileNames(targets), ", "))); err != nil {
			return err
		}
	}
	progress = ui.NewProgress(deps.IO, profileNames(targets))
	env.Events = progress
	parallel := opts.parallel
	if parallel <= 0 {
		parallel = fleet.Defaults.Parallel
	}
	results := env.SwitchAll(ctx, targets, so, parallel)
	progress.Close()
	return render(deps, homeSwitched{targets, results, deps.Config.DryRun, ctx.Err() != nil})
}

func profileNames(targets []*home.Target) []string {
	names := make([]string, len(targets))
	for i, t := range targets {
		names[i] = t.Profile.Name
	}
	return names
}

func summaryRow(io *ui.IO, t *home.Target, r home.Result) []string {
	mark, detail := io.OK(), r.Generation
	if !r.OK {
		mark, detail = io.Fail(), r.Error
	}
	return []string{mark, r.Profile, t.Where(), detail, r.Duration.Round(time.Millisecond).String()}
}

// homeSwitched is a result per profile switched, in the order of targets.
type homeSwitched struct {
	targets     []*home.Target
	results     []home.Result
	dryRun      bool
	interrupted bool
}

func (h homeSwitched) failed() []home.Result {
	var failed []home.Result
	for _, r := range h.results {
		if !r.OK {
			failed = append(failed, r)
		}
	}
	return failed
}

func (h homeSwitched) json() any {
	return struct {
		OK      bool          `json:"ok"`
		Results []home.Result `json:"results"`
	}{len(h.failed()) == 0, h.results}
}

func (h homeSwitched) text(io *ui.IO) {
	if h.dryRun {
		return
	}
	if len(h.results) == 1 {
		// One profile: its row once it switched, else its error alone.
		if h.results[0].OK {
			io.Table([]string{"", "profile", "where", "generation", "time"}, [][]string{summaryRow(io, h.targets[0], h.results[0])})
		}
		return
	}
	rows := make([][]string, len(h.results))
	for i, r := range h.results {
		rows[i] = summaryRow(io, h.targets[i], r)
	}
	io.Table([]string{"", "profile", "where", "result", "time"}, rows)
}

func (h homeSwitched) verdict() error {
	failed := h.failed()
	switch {
	case len(failed) == 0:
		return nil
	case len(h.results) == 1:
		// One profile fails as its error says; an interrupted one, as
		// interrupted.
		err := failed[0].Err
		if h.interrupted && fault.KindOf(err) != fault.Interrupted {
			return fault.New(fault.Interrupted, err, fault.HintOf(err))
		}
		return err
	case h.interrupted:
		var done, notDone []string
		for _, r := range h.results {
			if r.OK {
				done = append(done, r.Profile)
			} else {
				notDone = append(notDone, r.Profile)
			}
		}
		return fault.Newf(fault.Interrupted, "run the same command again to finish",
			"interrupted: switched %s; not switched %s", orNone(done), orNone(notDone))
	}
	names := make([]string, len(failed))
	for i, f := range failed {
		names[i] = f.Profile
	}
	return fault.New(fault.Outcome(len(h.results), len(failed), false),
		fmt.Errorf("%d of %d profiles failed: %s (first: %s)", len(failed), len(h.results), strings.Join(names, ", "), failed[0].Error), fault.HintOf(failed[0].Err))
}

func orNone(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

// loadOneProfile loads the inventory and picks the one profile a diff,
// generations or rollback works on.
func loadOneProfile(opts *homeOptions) (*inventory.Fleet, inventory.Profile, error) {
	fleet, err := opts.deps.Fleet()
	if err != nil {
		return nil, inventory.Profile{}, err
	}
	p, err := oneProfile(opts, fleet, opts.selectors)
	return fleet, p, err
}

func runHomeDiff(ctx context.Context, opts *homeOptions) error {
	deps := opts.deps
	fleet, p, err := loadOneProfile(opts)
	if err != nil {
		return err
	}
	if err := requireNix(deps, ""); err != nil {
		return err
	}
	env, progress := homeEnv(deps, fleet, p)
	targets, err := env.Prepare(ctx, []inventory.Profile{p}, home.SwitchOptions{Diff: true})
	progress.Close()
	if err != nil {
		return err
	}
	if targets[0].Diff == nil {
		if deps.Config.DryRun {
			return nil
		}
		return targets[0].Problem()
	}
	if deps.Config.DryRun {
		return nil
	}
	return render(deps, homeDiffs{targets[0].Diff})
}

// homeDiffs is what switching each profile changes.
type homeDiffs []*home.Diff

func (d homeDiffs) json() any {
	if len(d) == 1 {
		return d[0]
	}
	return []*home.Diff(d)
}

func (diffs homeDiffs) text(io *ui.IO) {
	for _, d := range diffs {
		added, removed, changed := d.Count()
		size := fmt.Sprintf("closure %s → %s (%s)", formatSize(d.OldSize), formatSize(d.NewSize), nix.FormatSizeDelta(d.SizeDelta))
		switch d.Old {
		case "":
			io.Printf("%s: first generation, closure %s\n", d.Profile, formatSize(d.NewSize))
			continue
		case d.New:
			io.Printf("%s: no change (the new generation is the current one)\n", d.Profile)
			continue
		}
		io.Printf("%s: %d added, %d removed, %d changed; %s\n", d.Profile, added, removed, changed, size)
		for _, c := range d.Changes {
			io.Printf("  %s\n", c.String())
		}
	}
}

func formatSize(b int64) string {
	return strings.TrimPrefix(nix.FormatSizeDelta(b), "+")
}

func runHomeGenerations(ctx context.Context, opts *homeOptions) error {
	deps := opts.deps
	fleet, p, err := loadOneProfile(opts)
	if err != nil {
		return err
	}
	var gens []home.Generation
	env, progress := homeEnv(deps, fleet, p)
	if p.Host != "" {
		rp, err := env.RemoteProfile(p)
		if err != nil {
			progress.Close()
			return err
		}
		gens, err = env.RemoteGenerations(ctx, rp)
		progress.Close()
		if err != nil {
			return err
		}
		if deps.Config.DryRun {
			return nil
		}
	} else {
		progress.Close()
		if _, gens, err = env.LocalGenerations(ctx, p); err != nil {
			return err
		}
	}
	return render(deps, homeGenerations(gens))
}

// homeGenerations are a profile's generations, the current one marked.
type homeGenerations []home.Generation

func (gens homeGenerations) text(io *ui.IO) {
	rows := make([][]string, len(gens))
	for i, g := range gens {
		cur := ""
		if g.Current {
			cur = "current"
		}
		rows[i] = []string{fmt.Sprint(g.Number), g.Date.Format("2006-01-02 15:04:05"), cur, g.Path}
	}
	io.Table([]string{"generation", "date", "", "path"}, rows)
}

func runHomeRollback(ctx context.Context, opts *homeOptions) error {
	deps := opts.deps
	fleet, p, err := loadOneProfile(opts)
	if err != nil {
		return err
	}
	if opts.to < 0 {
		return fault.Usagef("generation numbers start at 1", "--to %d is not a generation", opts.to)
	}
	var cur, target home.Generation
	env, progress := homeEnv(deps, fleet, p)
	if p.Host != "" {
		rp, err := env.RemoteProfile(p)
		if err != nil {
			progress.Close()
			return err
		}
		cur, target, err = env.RemoteRollback(ctx, rp, opts.to, progress.Writer(p.Name))
		progress.Close()
		if err != nil {
			return err
		}
	} else {
		progress.Close()
		path, gens, err := env.LocalGenerations(ctx, p)
		if err != nil {
			return err
		}
		if cur, target, err = home.RollbackTarget(gens, opts.to); err != nil {
			return err
		}
		deps.IO.Logf("%s: rolling back from generation %d to %d", p.Name, cur.Number, target.Number)
		if err := home.Rollback(ctx, deps.Runner(), path, cur, target, home.Streams{Out: deps.IO.Out, Err: deps.IO.Err}); err != nil {
			return err
		}
	}
	return render(deps, homeRolledBack{p.Name, cur.Number, target.Number, target.Path, deps.Config.DryRun})
}

// homeRolledBack is the generation a profile went back to.
type homeRolledBack struct {
	Profile string `json:"profile"`
	From    int    `json:"from"`
	To      int    `json:"to"`
	Path    string `json:"path"`
	dryRun  bool
}

func (r homeRolledBack) text(io *ui.IO) {
	if !r.dryRun {
		io.Printf("%s: generation %d is current (%s)\n", r.Profile, r.To, r.Path)
	}
}
