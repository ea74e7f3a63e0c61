package cli

import (
	"context"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/nixctl/nixctl/internal/app"
	"github.com/nixctl/nixctl/internal/deploy"
	"github.com/nixctl/nixctl/internal/eval"
	"github.com/nixctl/nixctl/internal/inventory"
	"github.com/nixctl/nixctl/internal/secrets"
	"github.com/nixctl/nixctl/internal/ui"
)

type secretsCheckOptions struct {
	deps      *app.Deps
	selectors []string
	all       bool
	evalJobs  int
}

func newSecretsCheckCmd(deps *app.Deps) *cobra.Command {
	opts := &secretsCheckOptions{deps: deps}
	cmd := &cobra.Command{
		Use:   "check [SELECTOR...]",
		Short: "Check that each host and profile can decrypt the secrets its configuration uses",
		Long: `Evaluate the sops-nix declarations of the selected hosts and profiles (all of
them by default) in one nix process: every config.sops.secrets.<name> with its
sopsFile, key and format, sops.defaultSopsFile, and sops.age.sshKeyPaths /
sops.age.keyFile. For each secret, check that its file is in the repository
and is a sops file, that the key is in it (a/b is a nested key, as sops-nix
reads it; "" the whole file), and that the machine's recipient is among the
file's recipients: for a host, the age recipient of its ed25519 host key from
known_hosts (else fetched over SSH); for a profile, the key its recipient:
names in .sops.yaml. No key is needed. Exits 7 naming each secret that would
fail to decrypt and the command that fixes it. deploy runs this check before
activating anything.

Selectors: a name, a glob such as 'nixos-*', or @tag.`,
		ValidArgsFunction: completeNames(deps, completeHosts),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.selectors = args
			return runSecretsCheck(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&opts.all, "all", false, "check every host and profile (the default without selectors)")
	addEvalJobsFlag(cmd.Flags(), &opts.evalJobs)
	return cmd
}

func runSecretsCheck(ctx context.Context, opts *secretsCheckOptions) error {
	deps := opts.deps
	fleet, hosts, profiles, err := selectBoth(deps, opts.selectors, opts.all)
	if err != nil {
		return err
	}
	if err := checkEvalJobs(opts.evalJobs); err != nil {
		return err
	}
	rep, err := checkSecretsAccess(ctx, deps, fleet, hosts, profiles, nil, opts.evalJobs)
	if err != nil {
		return err
	}
	return render(deps, accessResult{rep})
}

// accessResult is what secrets check found: a line per machine, then one
// per secret.
type accessResult struct{ *secrets.AccessCheck }

func (r accessResult) json() any      { return okFirst{r.OK(), r.AccessCheck} }
func (r accessResult) verdict() error { return r.Err() }

func (r accessResult) text(io *ui.IO) {
	for _, m := range r.Machines {
		line := fmt.Sprintf("%s %s %s", io.Mark(m.OK()), m.Kind, m.Name)
		switch {
		case m.Problem != "":
			line += ": " + m.Problem
		case len(m.Secrets) == 0:
			line += ": no sops secrets declared"
		case m.Recipient != "":
			line += fmt.Sprintf(": %d secret(s) for %s (%s)", len(m.Secrets), m.Recipient, m.From)
		default:
			line += fmt.Sprintf(": %d secret(s)", len(m.Secrets))
		}
		io.Printf("%s\n", line)
		if m.Note != "" {
			io.Printf("    note: %s\n", m.Note)
		}
		for _, s := range m.Secrets {
			mark := io.OK()
			detail := s.File
			if !s.OK {
				mark, detail = io.Fail(), s.Problem
			}
			io.Printf("    %s %s\t%s\n", mark, s.Name, detail)
		}
	}
}

// checkSecretsAccess runs the access check for hosts and profiles, for
// `secrets check`, deploy's check stage and the ci stage; evaluated, when
// set, are their declarations evaluated already (secrets.DeclItems).
func checkSecretsAccess(ctx context.Context, deps *app.Deps, fleet *inventory.Fleet, hosts []inventory.Host, profiles []inventory.Profile, evaluated []eval.Result, evalJobs int) (*secrets.AccessCheck, error) {
	s, err := secrets.NewSession(secrets.RepoOf(fleet), nil)
	if err != nil {
		return nil, err
	}
	if s.Config == nil {
		cfg := secrets.RepoOf(fleet).Config
		s.Config, err = secrets.ParseSopsConfig(cfg, []byte("{}\n"))
		if err != nil {
			return nil, err
		}
	}
	ssh, err := deps.SSH()
	if err != nil {
		return nil, err
	}
	return s.CheckAccess(ctx, secrets.AccessCheckOptions{
		Runner: deps.Runner(), Fleet: fleet, Hosts: hosts, Profiles: profiles,
		HostRecipient: secrets.RecipientFromHostKeys(ssh, fleet.Dir), Evaluated: evaluated, EvalJobs: evalJobs,
	})
}

// deploySecretsAccess is deploy's check-stage hook: the hosts that would
// fail to decrypt a secret they use, each with its error, from their
// sops-nix declarations evaluated with their toplevels. A check that cannot
// run at all stops every host: deploying blind is what it prevents. A
// fleet without .sops.yaml keeps no secrets nixctl could check.
func deploySecretsAccess(deps *app.Deps, fleet *inventory.Fleet) *deploy.SecretsAccess {
	if _, err := os.Stat(fleet.SopsConfigPath()); err != nil {
		return nil
	}
	return &deploy.SecretsAccess{
		Item: func(h inventory.Host) eval.Item { return secrets.DeclItems([]inventory.Host{h}, nil)[0] },
		Check: func(ctx context.Context, hosts []inventory.Host, evaluated []eval.Result) map[string]error {
			rep, err := checkSecretsAccess(ctx, deps, fleet, hosts, nil, evaluated, 0)
			return secrets.HostFailures(rep, err, hosts)
		},
	}
}
