package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/nixctl/nixctl/internal/app"
	"github.com/nixctl/nixctl/internal/ci"
	"github.com/nixctl/nixctl/internal/config"
	"github.com/nixctl/nixctl/internal/deploy"
	"github.com/nixctl/nixctl/internal/eval"
	"github.com/nixctl/nixctl/internal/exitcode"
	"github.com/nixctl/nixctl/internal/fault"
	"github.com/nixctl/nixctl/internal/inventory"
	"github.com/nixctl/nixctl/internal/secrets"
	"github.com/nixctl/nixctl/internal/ui"
)

type ciOptions struct {
	deps     *app.Deps
	noBuild  bool
	junit    string
	json     string
	deploy   string
	evalJobs int
}

func newCICmd(deps *app.Deps) *cobra.Command {
	opts := &ciOptions{deps: deps}
	cmd := &cobra.Command{
		Use:   "ci [--no-build] [--junit FILE] [--json FILE|-] [--deploy SELECTOR]",
		Short: "Validate the whole repository in one pipeline step, with JUnit and JSON reports",
		Long: `Validate the whole repository, for a CI pipeline. Stages, each reported
separately; every stage runs even when one fails, so one run shows every problem:

  1. inventory  nixctl.yaml is valid and agrees with the flake's outputs
  2. secrets    every file under the secrets directory is encrypted for .sops.yaml's
                recipients (MACs too when SOPS_AGE_KEY or SOPS_AGE_KEY_FILE is set)
  3. flake      nix flake check, one case per check, errors with file:line:column
  4. evaluate   every host's toplevel and every profile's activation package, in
                one nix process beside nix flake check
  5. build      all of them in one nix build (skipped with --no-build, which
                also passes --no-build to nix flake check)
  6. deploy     with --deploy SELECTOR, once 1-5 passed: nixctl deploy SELECTOR --yes
                --no-check (1-5 were its check), a case per host

A summary goes to stderr; --junit and --json write reports; with
GITHUB_ACTIONS=true every problem is also printed as an ::error annotation.
The first failing stage decides the exit code: inventory 3, secrets 7,
flake 4, evaluate 8, build 9, deploy its own.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return runCI(cmd.Context(), opts) },
	}
	f := cmd.Flags()
	f.BoolVar(&opts.noBuild, "no-build", false, "evaluate only: skip the build stage and the building of checks")
	f.StringVar(&opts.junit, "junit", "", "write a JUnit XML report to `FILE`")
	f.StringVar(&opts.json, "json", "", "write the report as JSON to `FILE`, or to stdout with -")
	f.StringVar(&opts.deploy, "deploy", "", "after every other stage passed, run nixctl deploy `SELECTOR` --yes")
	addEvalJobsFlag(f, &opts.evalJobs)
	cmd.AddCommand(newCIInitCmd(deps))
	return cmd
}

func runCI(ctx context.Context, opts *ciOptions) error {
	deps := opts.deps
	jsonOut := opts.json
	if strings.HasPrefix(jsonOut, "-") && jsonOut != "-" {
		// --json takes the next word as its file, even a flag: refuse it
		// rather than write a report named after a flag.
		return fault.Usagef("give a file name after --json, or - for stdout (nixctl --json ci prints it too)",
			"--json %s: that is a flag, not a file name", jsonOut)
	}
	if err := requireNix(deps, "install Nix (https://nixos.org/download) in the CI image, or use the workflow of 'nixctl ci init'"); err != nil {
		return err
	}
	// Not printing: --json is a default for ci's own --json FILE (stdout).
	if jsonOut == "" && deps.Config.JSON {
		jsonOut = "-"
	}
	if err := checkEvalJobs(opts.evalJobs); err != nil {
		return err
	}
	o := ci.Options{NoBuild: opts.noBuild, Deploy: opts.deploy, Log: deps.IO.Err, EvalJobs: opts.evalJobs}
	o.Fleet, o.FleetErr = deps.Fleet()
	if o.FleetErr != nil {
		var ee *fault.Error
		if errors.As(o.FleetErr, &ee) && ee.Kind != fault.Inventory {
			return o.FleetErr // not found, unreadable: nothing to validate
		}
		o.FlakeDir = ciFlakeDir(deps)
	}
	o.VerifySecrets = ci.SecretsStage(secretsEnv(deps))
	o.CheckSecretsAccess = func(ctx context.Context, fleet *inventory.Fleet, evaluated []eval.Result) (*secrets.AccessCheck, error) {
		return checkSecretsAccess(ctx, deps, fleet, fleet.Hosts, fleet.Profiles, evaluated, o.EvalJobs)
	}
	if opts.deploy != "" {
		if o.Fleet != nil {
			if _, err := o.Fleet.SelectHosts([]string{opts.deploy}, false); err != nil {
				return err
			}
		}
		o.RunDeploy = ciDeployer(deps)
	}
	progress := &ciProgress{io: deps.IO}
	rep, err := ci.Run(ctx, deps.Runner(), o, progress)
	if rep == nil {
		return err
	}
	printCISummary(deps.IO, rep)
	if werr := writeCIReports(deps, rep, opts.junit, jsonOut); werr != nil {
		return werr
	}
	if err != nil {
		return fault.New(fault.Interrupted, fmt.Errorf("interrupted: %w", err), "")
	}
	if rep.OK {
		return nil
	}
	first := rep.FirstFailed()
	var failedCase ci.Case
	for _, c := range first.Cases {
		if c.Status == ci.Failed {
			failedCase = c
			break
		}
	}
	hint := "the summary above lists every problem; each stage ran, so fix them all before pushing again"
	if opts.junit == "" && jsonOut == "" {
		hint += " (--junit FILE writes them for the CI's test view)"
	}
	return fault.Newf(rep.Kind, hint, "ci failed at the %s stage (%s): %s: %s",
		first.Name, failedStages(rep), ci.CaseName(failedCase), ciOneLine(failedCase.Summary()))
}

func failedStages(rep *ci.Report) string {
	var parts []string
	for _, s := range rep.Stages {
		if _, failed, _ := s.Counts(); failed > 0 {
			parts = append(parts, fmt.Sprintf("%s: %d failed", s.Name, failed))
		}
	}
	return strings.Join(parts, ", ")
}

// ciFlakeDir is the repository when the inventory did not load: --flake
// when it names a directory, else the directory of the inventory file.
func ciFlakeDir(deps *app.Deps) string {
	if deps.Config.Flake != "" {
		if dir, ok := config.LocalFlakeDir(deps.Config.Flake, deps.Cwd); ok {
			return dir
		}
		return deps.Config.Flake
	}
	if path, err := deps.Config.FindInventory(deps.Cwd); err == nil {
		return filepath.Dir(path)
	}
	return ""
}

// ciDeployer is nixctl deploy SELECTOR --yes --no-check, run in this
// process with this run's configuration: the stages before it were its
// check, and --deploy was the consent. Its hosts become cases of the ci
// report rather than a table of their own.
func ciDeployer(deps *app.Deps) ci.Deployer {
	return func(ctx context.Context, selector string) (*deploy.Report, error) {
		// --dry-run prints the plan and runs nothing: no hosts to report.
		rep := &deploy.Report{}
		opts := &deployOptions{
			deps: deps, selectors: []string{selector}, action: "switch", noCheck: true, confirmed: true,
			report: func(r *deploy.Report) error { rep = r; return nil },
		}
		if err := runDeploy(ctx, opts); err != nil {
			return nil, err
		}
		return rep, nil
	}
}

func writeCIReports(deps *app.Deps, rep *ci.Report, junit, jsonOut string) error {
	stdoutTaken := jsonOut == "-"
	if deps.Env.GitHubActions {
		// Workflow commands are read from the job's output; stdout unless
		// it carries the JSON report.
		w := deps.IO.Out
		if stdoutTaken {
			w = deps.IO.Err
		}
		if err := rep.WriteAnnotations(w); err != nil {
			return err
		}
	}
	if junit != "" {
		var buf bytes.Buffer
		if err := rep.WriteJUnit(&buf); err != nil {
			return err
		}
		if err := writeReportFile(junit, buf.Bytes()); err != nil {
			return err
		}
		deps.IO.Logf("JUnit report: %s", junit)
	}
	switch jsonOut {
	case "":
	case "-":
		return rep.WriteJSON(deps.IO.Out, exitcode.For)
	default:
		var buf bytes.Buffer
		if err := rep.WriteJSON(&buf, exitcode.For); err != nil {
			return err
		}
		if err := writeReportFile(jsonOut, buf.Bytes()); err != nil {
			return err
		}
		deps.IO.Logf("JSON report: %s", jsonOut)
	}
	return nil
}

// writeReportFile writes in place (a report path may be /dev/stdout).
func writeReportFile(path string, data []byte) error {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fault.New(fault.Failure, fmt.Errorf("writing report %s: %w", path, err), "choose a report path in a writable directory")
		}
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return fault.New(fault.Failure, fmt.Errorf("writing report %s: %w", path, err), "choose a report path in a writable directory")
	}
	return nil
}

// ciProgress prints a line per finished case on stderr.
type ciProgress struct {
	io *ui.IO
	mu sync.Mutex
}

func (p *ciProgress) StageStarted(name string) { p.io.Logf("%s", p.io.Paint(ui.Bold, "== "+name)) }

func (p *ciProgress) CaseFinished(stage string, c ci.Case) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.io.Logf("%s %s (%s)", ciMark(p.io, c.Status), ci.CaseName(c), c.Duration.Round(time.Millisecond))
	for _, pr := range c.Problems {
		p.io.Logf("    %s", pr.String())
	}
}

func (p *ciProgress) StageFinished(s ci.Stage) {
	if s.Status == ci.Skipped && s.Reason != "" {
		p.io.Logf("%s %s skipped: %s", ciMark(p.io, ci.Skipped), s.Name, s.Reason)
	}
}

func ciMark(io *ui.IO, s ci.Status) string {
	switch s {
	case ci.Failed:
		return io.Fail()
	case ci.Skipped:
		return io.Paint(ui.Dim, "-")
	}
	return io.OK()
}

// printCISummary is the table at the end: stage, item, result, duration.
func printCISummary(io *ui.IO, rep *ci.Report) {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STAGE\tITEM\tRESULT\tTIME")
	for _, s := range rep.Stages {
		if len(s.Cases) == 0 {
			fmt.Fprintf(tw, "%s\t-\t%s\t%s\n", s.Name, ciOneLine(string(s.Status)+ciReasonSuffix(s.Reason)), s.Duration.Round(time.Millisecond))
			continue
		}
		for _, c := range s.Cases {
			fmt.Fprintf(tw, "%s\t%s\t%s %s\t%s\n", s.Name, ci.CaseName(c), ciMark(io, c.Status), ciOneLine(c.Summary()), c.Duration.Round(time.Millisecond))
		}
	}
	_ = tw.Flush()
	verdict := io.Paint(ui.Green, "passed")
	if !rep.OK {
		verdict = io.Paint(ui.Red, fmt.Sprintf("failed (exit %d)", exitcode.For(rep.Kind)))
	}
	fmt.Fprintf(io.Err, "\n%s\nnixctl ci %s in %s\n", b.String(), verdict, rep.Duration.Round(time.Millisecond))
}

func ciReasonSuffix(r string) string {
	if r == "" {
		return ""
	}
	return ": " + r
}

func ciOneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > 160 {
		s = string(r[:157]) + "..."
	}
	return s
}

type ciInitOptions struct {
	deps     *app.Deps
	platform string
	force    bool
	output   string
	deploy   []string
}

func newCIInitCmd(deps *app.Deps) *cobra.Command {
	opts := &ciInitOptions{deps: deps}
	cmd := &cobra.Command{
		Use:   "init github|gitlab|forgejo",
		Short: "Write a CI workflow that runs nixctl ci and publishes its report",
		Long: `Write a workflow for the repository's CI system: it installs Nix, caches the
Nix store where the platform allows, runs

  ` + ci.RunLine + `

and publishes the JUnit report (GitHub: a check with annotations; GitLab: the
Tests tab; Forgejo: an artifact). The nixctl it runs is the one flake.lock
pins as the "nixctl" input of flake.nix. An existing file is never replaced
without --force.

--deploy SELECTOR adds a deploy job: after the validation job, on pushes to
the default branch only, it runs nixctl deploy SELECTOR --yes with the SSH
key, known_hosts and age key it reads from the platform's secrets
(` + strings.Join(ci.DeploySecrets, ", ") + `). Host keys are checked
against that known_hosts; the comments of the job say how to guard the
secrets with the platform's protected environments.

  github   .github/workflows/nixctl.yml
  gitlab   .gitlab-ci.yml
  forgejo  .forgejo/workflows/nixctl.yml`,
		ValidArgs: ci.Platforms(),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return fault.Usagef("nixctl ci init "+strings.Join(ci.Platforms(), "|"), "name one CI system")
			}
			opts.platform = args[0]
			return runCIInit(opts)
		},
	}
	cmd.Flags().BoolVar(&opts.force, "force", false, "replace an existing workflow file")
	cmd.Flags().StringVarP(&opts.output, "output", "o", "", "write the workflow to `FILE` instead of the platform's default path")
	cmd.Flags().StringSliceVar(&opts.deploy, "deploy", nil, "add a job deploying the hosts `SELECTOR` selects (names, globs, @tags; repeat or separate with commas) from the default branch")
	return cmd
}

func runCIInit(opts *ciInitOptions) error {
	deps := opts.deps
	p, ok := ci.LookupPlatform(opts.platform)
	if !ok {
		return fault.Usagef("nixctl ci init "+strings.Join(ci.Platforms(), "|"), "unknown CI system %q", opts.platform)
	}
	if opts.deploy != nil {
		if err := ci.CheckDeploySelectors(opts.deploy); err != nil {
			return fault.Usagef("for example --deploy nixos-mini or --deploy @servers", "%v", err)
		}
		// The job deploys what the inventory selects: refuse a selector that
		// selects nothing now rather than a CI run that fails later.
		fleet, err := deps.Fleet()
		if err != nil {
			return err
		}
		if _, err := fleet.SelectHosts(opts.deploy, false); err != nil {
			return err
		}
		if p, err = p.WithDeploy(opts.deploy); err != nil {
			return fault.Usagef("", "%v", err)
		}
	}
	repo := ciRepoDir(deps)
	path := opts.output
	if path == "" {
		path = filepath.Join(repo, p.Path)
	} else if !filepath.IsAbs(path) {
		path = filepath.Join(deps.Cwd, path)
	}
	if err := ci.WriteWorkflow(deps.Writer(), path, p.Content, opts.force); err != nil {
		if errors.Is(err, ci.ErrExists) {
			return fault.Newf(fault.Failure, "pass --force to replace it, or -o FILE to write elsewhere", "%s exists; nixctl ci init will not overwrite it", path)
		}
		return fault.New(fault.Failure, fmt.Errorf("writing the workflow: %w", err), "")
	}
	return render(deps, ciInitResult{Deploy: opts.deploy, Path: path, Pinned: ci.PinsNixctl(repo), Platform: p.Name, next: p.Next, dryRun: deps.Config.DryRun})
}

// ciInitResult is the workflow ci init wrote, or would write.
type ciInitResult struct {
	Deploy   []string `json:"deploy"`
	Path     string   `json:"path"`
	Pinned   bool     `json:"pinned"`
	Platform string   `json:"platform"`
	next     string
	dryRun   bool
}

func (r ciInitResult) text(io *ui.IO) {
	io.Printf("%s\n", r.Path)
	io.Logf("%s %s the %s workflow: %s", io.OK(), didOrWould(r.dryRun, "wrote", "would write"), r.Platform, r.next)
	if !r.Pinned {
		io.Warnf("flake.lock has no nixctl input: %s", ci.PinHint)
	}
}

// ciRepoDir is where the workflow goes: the repository holding the
// inventory, else --flake, else the working directory.
func ciRepoDir(deps *app.Deps) string {
	if fleet, err := deps.Fleet(); err == nil {
		return fleet.Dir
	}
	if dir := ciFlakeDir(deps); dir != "" {
		return dir
	}
	return deps.Cwd
}
