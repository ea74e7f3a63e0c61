// Package cli is nixctl's command tree. Each command is an Options struct, a
// constructor that receives its dependencies and a run function; errors turn
// into exit codes here, in one place.
package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/nixctl/nixctl/internal/app"
	"github.com/nixctl/nixctl/internal/config"
	"github.com/nixctl/nixctl/internal/exitcode"
	"github.com/nixctl/nixctl/internal/fault"
	"github.com/nixctl/nixctl/internal/ui"
)

// Version is stamped at build time with -ldflags "-X .../cli.Version=…".
var Version = "dev"

// Main runs nixctl with args and returns the exit code. SIGINT and SIGTERM
// cancel ctx, which reaches every child process and SSH session.
func Main(ctx context.Context, args []string, stdio ui.Stdio) int {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	cwd, err := os.Getwd()
	if err != nil {
		fmt.Fprintf(stdio.Err, "nixctl: error: %v\n", err)
		return exitcode.Failure
	}
	// The process's environment and directory are read here, once: below
	// this line nixctl sees only what Deps holds.
	deps := app.New(app.Parts{Env: app.NewEnv(os.Environ()), Cwd: cwd, Stdio: stdio, Version: Version})
	return run(ctx, deps, args)
}

// run is Main without signals, for tests that bring their own Deps.
func run(ctx context.Context, deps *app.Deps, args []string) int {
	root := newRootCmd(deps)
	root.SetArgs(args)
	root.SetIn(deps.Stdio.In)
	root.SetOut(deps.Stdio.Out)
	root.SetErr(deps.Stdio.Err)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitcode.OK
	}
	if ctx.Err() != nil && !errors.As(err, new(*fault.Error)) {
		err = fault.New(fault.Interrupted, fmt.Errorf("interrupted: %w", err), "")
	}
	return report(deps.IO, err)
}

// report prints err in the age style: an error line, then a hint line.
func report(io *ui.IO, err error) int {
	code := exitcode.Code(err)
	if errors.Is(err, errSilent) {
		return code
	}
	msg := err.Error()
	if errors.Is(err, fault.ErrCancelled) {
		// Declining is the user's choice, not a failure: no "error:" and no hint.
		fmt.Fprintf(io.Err, "%s %s\n", io.Paint(ui.Yellow, "nixctl:"), msg)
		return code
	}
	printFailure(io, "nixctl: error:", msg, fault.HintOf(err))
	return code
}

// printFailure says on stderr what failed (label: "nixctl: error:", or
// what happened to a host instead) and, when there is one, the hint: the
// lines of a run's error, and of each host a run reports itself.
func printFailure(io *ui.IO, label, msg, hint string) {
	fmt.Fprintf(io.Err, "%s %s\n", io.Paint(ui.Red, label), msg)
	if hint != "" {
		fmt.Fprintf(io.Err, "%s %s\n", io.Paint(ui.Yellow, "nixctl: hint:"), hint)
	}
}

// errSilent marks a failure whose details the command already printed.
var errSilent = errors.New("already reported")

// Silent wraps a kind for a failure the command reported itself (a summary
// table, a JSON document), so Main prints nothing more.
func Silent(kind fault.Kind) error {
	return fault.New(kind, errSilent, "")
}

func newRootCmd(deps *app.Deps) *cobra.Command {
	root := &cobra.Command{
		Use:   "nixctl",
		Short: "Run a whole Nix estate from one flake repository",
		Long: `nixctl runs a Nix estate from one flake repository: NixOS hosts through
nixos-rebuild --target-host, Home Manager profiles through home-manager, and the
sops/age secrets they share. The inventory is nixctl.yaml beside flake.nix.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		// A global flag before a command's name is the global one, even
		// where the command has a flag of that name (ci's --json FILE):
		// `nixctl --json ci init github` is ci init with --json.
		TraverseChildren: true,
		Version:          Version,
		Args:             unknownSubcommand,
		RunE:             func(cmd *cobra.Command, args []string) error { return cmd.Help() },
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			if err := checkCounts(cmd); err != nil {
				return err
			}
			// The root's own flags: a command's flag of the same name
			// (ci's --json FILE) is that command's, not the global one.
			cfg, err := config.Load(cmd.Root().PersistentFlags(), deps.Env.Settings)
			if err != nil {
				return err
			}
			deps.Config = cfg
			deps.IO = ui.New(deps.Stdio, deps.Env.Terminal(), cfg.NoColor)
			deps.IO.Verbose, deps.IO.Quiet = cfg.Verbose, cfg.Quiet
			return nil
		},
	}
	config.AddFlags(root.PersistentFlags())
	root.SetFlagErrorFunc(flagError)
	root.SetHelpCommand(newHelpCmd())
	root.SetVersionTemplate("nixctl {{.Version}}\n")
	root.CompletionOptions.DisableDefaultCmd = true
	// Every command is listed here, one line each; no init() registration.
	root.AddCommand(
		newVersionCmd(deps),
		newCompletionCmd(deps),
		newInventoryCmd(deps),
		newCheckCmd(deps),
		newDoctorCmd(deps),
		newHomeCmd(deps),
		newCICmd(deps),
		newSecretsCmd(deps),
		newInitCmd(deps),
		newHostCmd(deps),
		newProfileCmd(deps),
		newManCmd(deps),
		newDeployCmd(deps),
		newPlanCmd(deps),
		newStatusCmd(deps),
		newRollbackCmd(deps),
	)
	guardGroups(root)
	return root
}

// requireArgs is cobra.MinimumNArgs with nixctl's usage error and hint.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return fault.Usagef("see '"+cmd.CommandPath()+" --help'", "%s takes no arguments, got %q", cmd.CommandPath(), strings.Join(args, " "))
	}
	return nil
}
