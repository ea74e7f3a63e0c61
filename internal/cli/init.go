package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"github.com/spf13/cobra"

	"github.com/nixctl/nixctl/internal/app"
	"github.com/nixctl/nixctl/internal/execx"
	"github.com/nixctl/nixctl/internal/fault"
	"github.com/nixctl/nixctl/internal/inventory"
	"github.com/nixctl/nixctl/internal/scaffold"
	"github.com/nixctl/nixctl/internal/secrets"
	"github.com/nixctl/nixctl/internal/ui"
	nixfiles "github.com/nixctl/nixctl/nix"
)

type initOptions struct {
	deps *app.Deps
	dir  string
	// names are the flags; an empty value takes its default.
	names scaffold.Names
	git   bool
	// adopt writes only nixctl.yaml, from the flake already in dir.
	adopt bool
	// template is the tree written (nix/template; tests may swap it).
	template fs.FS
}

func newInitCmd(deps *app.Deps) *cobra.Command {
	opts := &initOptions{deps: deps, template: nixfiles.Template()}
	cmd := &cobra.Command{
		Use:   "init [DIR]",
		Short: "Create a fleet repository: flake, Home Manager profiles, NixOS server modules, inventory",
		Long: `Write a new fleet repository into DIR (default: the current directory):
flake.nix (nixpkgs, Home Manager, nixGL, sops-nix), home/ with the laptop,
desktop and server profiles, modules/server/ (base system, networking, node
exporter, k0s skeleton), hosts/HOST/, .sops.yaml, nixctl.yaml
and a README with the deployment procedure. .sops.yaml lists your age key
(found, or made, where 'nixctl secrets init' would: ~/.config/sops/age/keys.txt).

With --adopt, in a repository that already has flake.nix: write only
nixctl.yaml, from the flake's nixosConfigurations and homeConfigurations
(see 'nixctl inventory init --help').

Nothing is overwritten: if any of these files exists, every conflict is listed
and nothing is written. With --git, the files are added to a git repository
(flakes only see files git tracks).`,
		Example: `  nixctl init myfleet --user gabriel --host nixos-mini --address 192.168.1.20 --git
  nixctl init --adopt          # in an existing flake repository: only nixctl.yaml`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 1 {
				return fault.Usagef("nixctl init [DIR]", "init takes one directory, got %d arguments", len(args))
			}
			opts.dir = "."
			if len(args) == 1 {
				opts.dir = args[0]
			}
			if opts.adopt {
				for _, name := range []string{"user", "host", "address", "release", "git"} {
					if cmd.Flags().Changed(name) {
						return fault.Usagef("drop --"+name+": --adopt writes only nixctl.yaml, from what the flake defines",
							"--adopt and --%s do not go together", name)
					}
				}
				dir := opts.dir
				if !filepath.IsAbs(dir) {
					dir = filepath.Join(deps.Cwd, dir)
				}
				return runAdopt(cmd.Context(), deps, filepath.Clean(dir))
			}
			return runInit(cmd.Context(), opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.names.User, "user", "", "your login user on every machine (default: $USER)")
	f.StringVar(&opts.names.Host, "host", "", "name of the first NixOS server (default: "+scaffold.TemplateNames.Host+")")
	f.StringVar(&opts.names.Address, "address", "", "IP address or DNS name nixctl reaches the server at (default: the host name)")
	f.StringVar(&opts.names.Release, "release", scaffold.DefaultRelease, "NixOS and Home Manager release to pin")
	f.BoolVar(&opts.git, "git", false, "run git init and git add on the new files")
	f.BoolVar(&opts.adopt, "adopt", false, "in an existing flake repository, write only nixctl.yaml from its outputs")
	return cmd
}

func runInit(ctx context.Context, opts *initOptions) error {
	deps := opts.deps
	names := opts.names
	if names.User == "" {
		names.User = deps.Env.User
		if names.User == "" || names.User == "root" {
			return fault.Usagef("pass --user NAME: your login user on the laptop and the servers", "no --user given and $USER is %q", names.User)
		}
	}
	if names.Host == "" {
		names.Host = scaffold.TemplateNames.Host
	}
	if names.Address == "" {
		names.Address = names.Host
	}
	dir := opts.dir
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(deps.Cwd, dir)
	}
	if st, err := os.Stat(dir); err == nil && !st.IsDir() {
		return fault.Usagef("name a directory (it is created if missing)", "%s is not a directory", opts.dir)
	}
	if _, err := scaffold.PlanInit(dir, opts.template, names); err != nil {
		return scaffoldError(err)
	}
	// .sops.yaml carries the user's key from the first commit, found or
	// made as `nixctl secrets init` does, so the new fleet is green.
	keyFile, recipient, created, err := secrets.EnsureUserKey(secretsEnv(deps), deps.Now(), deps.Writer())
	if err != nil {
		return err
	}
	switch {
	case created && deps.Config.DryRun:
		// The key printed above exists only in this run: its recipient
		// would be another one.
		deps.IO.Logf("would create your age key %s", keyFile)
	case created:
		deps.IO.Logf("created your age key %s (recipient %s)", keyFile, recipient)
	}
	names.Recipient = recipient
	plan, err := scaffold.PlanInit(dir, opts.template, names)
	if err != nil {
		return scaffoldError(err)
	}
	if names.Release != scaffold.DefaultRelease {
		deps.IO.Warnf("the template's option names were checked against NixOS and Home Manager %s and the renames of 25.11 applied; read the %s release notes before the first switch", scaffold.DefaultRelease, names.Release)
	}
	if opts.git {
		if _, err := deps.Runner().LookPath("git"); err != nil {
			return fault.Newf(fault.Failure, "install git, or run nixctl init without --git", "--git: git is not installed or not on PATH")
		}
	}
	if err := plan.Apply(deps.Writer()); err != nil {
		return fault.New(fault.Failure, fmt.Errorf("writing %s: %w", opts.dir, err), "")
	}
	if opts.git {
		if err := gitAdd(ctx, deps, dir, plan.Paths()); err != nil {
			return err
		}
	}
	return render(deps, initResult{Address: names.Address, Dir: plan.Dir, DryRun: deps.Config.DryRun, Files: plan.Paths(), Host: names.Host,
		Next: initNextSteps(opts.dir, names, opts.git), Release: names.Release, User: names.User, given: opts.dir})
}

// gitAdd makes dir a git repository and adds files to it, so that flakes see them.
func gitAdd(ctx context.Context, deps *app.Deps, dir string, files []string) error {
	r := deps.Runner()
	for _, argv := range [][]string{
		{"git", "init", "--quiet"},
		append([]string{"git", "add", "--"}, files...),
	} {
		if _, err := r.Run(ctx, execx.Cmd{Argv: argv, Dir: dir, Stderr: deps.IO.Err}); err != nil {
			return fault.New(fault.Failure, fmt.Errorf("the files are written, but %w", err), "run 'git init && git add .' in "+dir+" yourself")
		}
	}
	return nil
}

// initNextSteps are the three commands to run after init.
func initNextSteps(dir string, n scaffold.Names, git bool) []string {
	second := "git init && git add .        # flakes see only the files git tracks"
	if git {
		second = "nix flake lock               # pins nixpkgs, Home Manager, nixGL, sops-nix (needs network)"
	}
	return []string{
		"cd " + execx.QuoteWord(dir),
		second,
		"nixctl check                 # evaluates " + n.Host + " and the laptop, desktop and server profiles",
	}
}

// initResult is the repository init wrote, or would write.
type initResult struct {
	Address string   `json:"address"`
	Dir     string   `json:"dir"`
	DryRun  bool     `json:"dryRun"`
	Files   []string `json:"files"`
	Host    string   `json:"host"`
	Next    []string `json:"next"`
	Release string   `json:"release"`
	User    string   `json:"user"`
	// given is the directory as the command line gave it.
	given string
}

func (r initResult) text(io *ui.IO) {
	verb := didOrWould(r.DryRun, "created", "would create")
	for _, p := range r.Files {
		io.Debugf("%s %s", verb, p)
	}
	io.Printf("%s %s %s: %d files (user %s, host %s at %s, release %s)\n", io.OK(), verb, r.given, len(r.Files), r.User, r.Host, r.Address, r.Release)
	io.Printf("\nNext:\n")
	for _, c := range r.Next {
		io.Printf("  %s\n", c)
	}
	io.Logf("\nBefore the first deploy, put your SSH public key in hosts/%s/configuration.nix (fleet.server.authorizedKeys) and read README.md.", r.Host)
}

// scaffoldError classifies scaffold's refusals into exit codes and hints.
func scaffoldError(err error) error {
	var conflict *scaffold.ConflictError
	var exists *scaffold.ExistsError
	var marker *scaffold.MarkerError
	var invalid *inventory.ValidationError
	switch {
	case errors.As(err, &conflict):
		if slices.Contains(conflict.Paths, "flake.nix") {
			return fault.New(fault.Failure, err, "this is already a flake repository: 'nixctl init --adopt' writes only nixctl.yaml, from its outputs")
		}
		return fault.New(fault.Failure, err, conflict.Hint())
	case errors.As(err, &exists):
		return fault.New(fault.Usage, err, exists.Hint())
	case errors.As(err, &marker):
		return fault.New(fault.Failure, err, marker.Hint())
	case errors.As(err, &invalid):
		return fault.New(fault.Inventory, err, invalid.Hint())
	case errors.Is(err, fs.ErrNotExist):
		return fault.New(fault.Inventory, err, "run this inside a fleet repository (nixctl.yaml beside flake.nix), or create one with 'nixctl init'")
	}
	return fault.New(fault.Usage, err, "see --help for what each flag accepts")
}
