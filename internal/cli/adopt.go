package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/nixctl/nixctl/internal/app"
	"github.com/nixctl/nixctl/internal/config"
	"github.com/nixctl/nixctl/internal/fault"
	"github.com/nixctl/nixctl/internal/inventory"
	"github.com/nixctl/nixctl/internal/scaffold"
	"github.com/nixctl/nixctl/internal/ui"
)

// adoptHelp is shared by 'init --adopt' and 'inventory init'.
const adoptHelp = `Write nixctl.yaml for a flake repository that already exists, and touch
nothing else: one host per nixosConfigurations output and one profile per
homeConfigurations output, each with attr: set to the output's name. What can
be learnt is filled in and marked "guessed" by a comment: a host's address
(and port, user, identity, ProxyJump) from a matching Host in ~/.ssh/config,
else its networking.fqdn or networking.hostName; a profile's user from its
home.username. The whole flake is evaluated by one nix process. An existing
nixctl.yaml is never replaced: 'nixctl inventory sync' adds new outputs to it.`

func newInventoryInitCmd(deps *app.Deps) *cobra.Command {
	return &cobra.Command{
		Use:     "init",
		Short:   "Write nixctl.yaml from the flake's outputs (the same as 'nixctl init --adopt')",
		Long:    adoptHelp,
		Example: "  cd ~/nix-config && nixctl inventory init && nixctl inventory check",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			dir, err := flakeDir(deps)
			if err != nil {
				return err
			}
			return runAdopt(cmd.Context(), deps, dir)
		},
	}
}

// flakeDir is the local flake repository a command works on: --flake, else
// the nearest directory holding flake.nix, walking up from the working one.
func flakeDir(deps *app.Deps) (string, error) {
	if deps.Config.Flake != "" {
		dir, ok := config.LocalFlakeDir(deps.Config.Flake, deps.Cwd)
		if !ok {
			return "", fault.Usagef("clone it and run nixctl there", "--flake %s is not a local directory", deps.Config.Flake)
		}
		return dir, nil
	}
	for dir := deps.Cwd; ; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "flake.nix")); err == nil {
			return dir, nil
		}
		if filepath.Dir(dir) == dir {
			return "", fault.Usagef("run it inside your flake repository, or pass --flake DIR; 'nixctl init DIR' writes a new one",
				"no flake.nix in %s or any parent directory", deps.Cwd)
		}
	}
}

// runAdopt writes the inventory of the flake in dir.
func runAdopt(ctx context.Context, deps *app.Deps, dir string) error {
	if _, err := os.Stat(filepath.Join(dir, "flake.nix")); err != nil {
		return fault.Usagef("'nixctl init "+dir+"' (without --adopt) writes a new fleet repository there",
			"%s has no flake.nix to adopt", dir)
	}
	if _, err := os.Lstat(filepath.Join(dir, inventory.FileName)); err == nil {
		return fault.Usagef("'nixctl inventory sync' adds the flake's new outputs to it",
			"%s already exists; it is never replaced", filepath.Join(dir, inventory.FileName))
	}
	out, err := evalOutputs(ctx, deps, dir)
	if err != nil {
		return err
	}
	a, err := scaffold.PlanAdopt(dir, out, sshConfigLookup(deps))
	if err != nil {
		return adoptError(err)
	}
	if err := a.Write(deps.Writer()); err != nil {
		return fault.New(fault.Failure, fmt.Errorf("writing %s: %w", inventory.FileName, err), "")
	}
	return render(deps, newAdoptResult(deps.Config.DryRun, a, out))
}

// evalOutputs is the one nix evaluation of the flake's hosts and profiles.
func evalOutputs(ctx context.Context, deps *app.Deps, dir string) (*scaffold.Outputs, error) {
	if err := requireNix(deps, "install Nix: nixctl reads the flake's outputs with nix eval"); err != nil {
		return nil, err
	}
	out, err := scaffold.EvalOutputs(ctx, deps.Runner(), dir)
	if err != nil {
		return nil, fault.New(fault.Check, err, fault.HintOf(err))
	}
	if out.Partial != nil {
		deps.IO.Warnf("the flake's outputs were listed, but evaluating them failed, so nothing was guessed: %v", out.Partial)
	}
	return out, nil
}

func adoptError(err error) error {
	var invalid *inventory.ValidationError
	if errors.As(err, &invalid) {
		return fault.New(fault.Failure, err, "this is a bug in nixctl: please report it with the flake's output names")
	}
	if errors.Is(err, fs.ErrExist) {
		return fault.New(fault.Usage, err, "'nixctl inventory sync' adds the flake's new outputs to it")
	}
	return scaffoldError(err)
}

// adoptResult is the inventory init --adopt wrote, or would write.
type adoptResult struct {
	DryRun    bool             `json:"dryRun"`
	Entries   []scaffold.Entry `json:"entries"`
	Evaluated bool             `json:"evaluated"`
	File      string           `json:"file"`
	// data is the file: a dry run's result.
	data []byte
}

func newAdoptResult(dryRun bool, a *scaffold.Adoption, out *scaffold.Outputs) adoptResult {
	return adoptResult{DryRun: dryRun, Entries: nonNil(a.Entries), Evaluated: out.Partial == nil, File: filepath.Join(a.Dir, inventory.FileName), data: a.Data}
}

func (r adoptResult) text(io *ui.IO) {
	if r.DryRun {
		io.Printf("%s", r.data)
		return
	}
	hosts, profiles := 0, 0
	for _, e := range r.Entries {
		if e.Kind == "host" {
			hosts++
		} else {
			profiles++
		}
	}
	io.Printf("%s wrote %s: %s, %s\n", io.OK(), r.File, countOf(hosts, "host"), countOf(profiles, "profile"))
	printEntries(io, "", r.Entries)
	io.Logf("next: check the guessed values, then 'nixctl inventory check' (and 'git add %s')", inventory.FileName)
}

// printEntries lists entries with what was guessed for each.
func printEntries(io *ui.IO, lead string, entries []scaffold.Entry) {
	for _, e := range entries {
		var g []string
		for _, x := range e.Guesses {
			g = append(g, fmt.Sprintf("%s %s (%s)", x.Key, x.Value, x.From))
		}
		line := fmt.Sprintf("  %s%s %s (%s)", lead, e.Kind, e.Name, e.Attr)
		if len(g) > 0 {
			line += ": guessed " + strings.Join(g, ", ")
		}
		io.Printf("%s\n", line)
	}
}
