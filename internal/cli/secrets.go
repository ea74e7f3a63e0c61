package cli

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/nixctl/nixctl/internal/app"
	"github.com/nixctl/nixctl/internal/exitcode"
	"github.com/nixctl/nixctl/internal/secrets"
)

func newSecretsCmd(deps *app.Deps) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "secrets",
		Short: "Encrypt, edit, verify and rekey the sops/age secrets of the fleet",
		Long: `Manage the sops files under the inventory's secrets directory (secrets: dir,
default secrets/) for the age recipients listed in .sops.yaml, in-process: nixctl
never runs sops, and the files it writes are ordinary sops files that sops and
sops-nix read unchanged.`,
	}
	cmd.AddCommand(
		newSecretsInitCmd(deps),
		newSecretsListCmd(deps),
		newSecretsVerifyCmd(deps),
		newSecretsCatCmd(deps),
	)
	return cmd
}

// secretsEnv is what key lookup needs, from the command's dependencies.
func secretsEnv(deps *app.Deps) secrets.Env {
	return secrets.Env{Getenv: deps.Getenv, Home: deps.Home(), Runner: deps.Runner()}
}

// secretsSession opens the fleet's secrets, with the keys of this machine
// when withKeys is set.
func secretsSession(deps *app.Deps, withKeys bool) (*secrets.Session, error) {
	fleet, err := deps.Fleet()
	if err != nil {
		return nil, err
	}
	var keys *secrets.Keyring
	if withKeys {
		keys = secrets.LoadKeyring(deps.Context(), secretsEnv(deps))
	}
	s, err := secrets.NewSession(secrets.RepoOf(fleet), keys)
	if err != nil {
		return nil, err
	}
	s.Now = deps.Now
	return s, nil
}

func secretsWriter(deps *app.Deps) secrets.Writer {
	if deps.Config.DryRun {
		return secrets.DryRun{Out: deps.IO.Out}
	}
	return secrets.Disk{}
}

type secretsInitOptions struct {
	deps *app.Deps
	name string
}

func newSecretsInitCmd(deps *app.Deps) *cobra.Command {
	opts := &secretsInitOptions{deps: deps}
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Create your age key and .sops.yaml if they do not exist",
		Long: `Create your age key where sops looks for it (SOPS_AGE_KEY_FILE, else
$XDG_CONFIG_HOME/sops/age/keys.txt, i.e. ~/.config/sops/age/keys.txt), mode 0600,
in the format age-keygen writes; an existing key file is used, never
overwritten. Then write .sops.yaml, if there is none, with your recipient under
an anchor named after you and a creation rule for the secrets directory.
Running it again changes nothing.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return runSecretsInit(opts) },
	}
	cmd.Flags().StringVar(&opts.name, "name", "", "anchor name for your key in .sops.yaml (default: $USER)")
	return cmd
}

var notAnchorChar = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

func runSecretsInit(opts *secretsInitOptions) error {
	deps := opts.deps
	fleet, err := deps.Fleet()
	if err != nil {
		return err
	}
	name := opts.name
	if name == "" {
		name = strings.Trim(notAnchorChar.ReplaceAllString(deps.Getenv("USER"), "-"), "-.")
		if name == "" {
			name = "admin"
		}
	}
	res, err := secrets.Init(secrets.RepoOf(fleet), secretsEnv(deps), name, deps.Now(), secretsWriter(deps))
	if err != nil {
		return err
	}
	io := deps.IO
	if deps.Config.JSON {
		return io.PrintJSON(res)
	}
	keyState, cfgState := "exists", "exists"
	if res.KeyCreated {
		keyState = "created"
	}
	if res.ConfigCreated {
		cfgState = "created"
	}
	io.Printf("key         %s (%s)\n", res.KeyFile, keyState)
	io.Printf("recipient   %s\n", res.Recipient)
	io.Printf(".sops.yaml  %s (%s)\n", res.Config, cfgState)
	if !res.InConfig {
		io.Warnf("%s does not list your recipient: ask someone who can read the secrets to add it, then run 'nixctl secrets rekey'", res.Config)
	}
	return nil
}

type secretsListOptions struct{ deps *app.Deps }

func newSecretsListCmd(deps *app.Deps) *cobra.Command {
	opts := &secretsListOptions{deps: deps}
	return &cobra.Command{
		Use:   "list",
		Short: "List every file under the secrets directory with its recipients and status",
		Long: `List every file under the secrets directory: path, format, recipients (by
their .sops.yaml anchor names), last modified, and status: ok, PLAINTEXT,
recipients differ from .sops.yaml, or MAC invalid (checked when a key is here).`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return runSecretsList(opts) },
	}
}

func runSecretsList(opts *secretsListOptions) error {
	deps := opts.deps
	s, err := secretsSession(deps, true)
	if err != nil {
		return err
	}
	rep, err := s.Verify(deps.Context(), secrets.VerifyOptions{})
	if err != nil {
		return err
	}
	io := deps.IO
	if deps.Config.JSON {
		return io.PrintJSON(rep)
	}
	var rows [][]string
	for _, f := range rep.Files {
		status := f.Status
		if f.OK() {
			status = io.Paint("32", status)
		} else {
			status = io.Paint("31", status)
		}
		rows = append(rows, []string{f.Path, string(f.Format), orDash(strings.Join(f.Recipients, ",")), f.Modified.Local().Format(time.DateTime), status})
	}
	io.Table([]string{"path", "format", "recipients", "modified", "status"}, rows)
	if len(rep.Files) == 0 {
		io.Logf("no files under %s", rep.Dir)
	}
	return nil
}

type secretsVerifyOptions struct {
	deps   *app.Deps
	staged bool
}

func newSecretsVerifyCmd(deps *app.Deps) *cobra.Command {
	opts := &secretsVerifyOptions{deps: deps}
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Check that every secret is encrypted for the recipients of .sops.yaml",
		Long: `Check every file under the secrets directory: it must be a sops file whose
values are all encrypted, and its recipients must match .sops.yaml. No key is
needed for that; when a key is available, each file's MAC is checked too
(tampering: an altered value, swapped ciphertexts). Exits 7 listing each
problem. --staged checks what git has staged instead, for a pre-commit hook:

  printf '#!/bin/sh\nexec nixctl secrets verify --staged\n' > .git/hooks/pre-commit`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return runSecretsVerify(opts) },
	}
	cmd.Flags().BoolVar(&opts.staged, "staged", false, "check the files git has staged (pre-commit hook)")
	return cmd
}

func runSecretsVerify(opts *secretsVerifyOptions) error {
	deps := opts.deps
	s, err := secretsSession(deps, true)
	if err != nil {
		return err
	}
	rep, err := s.Verify(deps.Context(), secrets.VerifyOptions{Staged: opts.staged, Runner: deps.Runner()})
	if err != nil {
		return err
	}
	io := deps.IO
	if deps.Config.JSON {
		if err := io.PrintJSON(struct {
			OK bool `json:"ok"`
			*secrets.VerifyReport
		}{rep.OK(), rep}); err != nil {
			return err
		}
		if !rep.OK() {
			return Silent(exitcode.Secrets)
		}
		return nil
	}
	checked := 0
	for _, f := range rep.Files {
		mark := io.OK()
		if !f.OK() {
			mark = io.Fail()
		}
		if f.MACChecked {
			checked++
		}
		io.Printf("%s %s\t%s\n", mark, f.Path, f.Status)
	}
	if !s.Keys.HasKeys() && len(rep.Files) > 0 {
		io.Logf("no age key here: MACs not checked (structure and recipients were)")
	}
	problems := rep.Problems()
	if len(problems) > 0 {
		return exitcode.Newf(exitcode.Secrets, "encrypt plaintext with 'nixctl secrets add', run 'nixctl secrets rekey' for recipients, restore tampered files from git",
			"%d problem(s) in %s:\n  %s", len(problems), rep.Dir, strings.Join(problems, "\n  "))
	}
	io.Logf("%d file(s) verified, %d MAC(s) checked", len(rep.Files), checked)
	return nil
}

type secretsCatOptions struct {
	deps    *app.Deps
	path    string
	extract string
}

func newSecretsCatCmd(deps *app.Deps) *cobra.Command {
	opts := &secretsCatOptions{deps: deps}
	cmd := &cobra.Command{
		Use:   "cat PATH",
		Short: "Decrypt a secret to stdout",
		Long: `Decrypt PATH (relative to the secrets directory, e.g. kubeconfig/nixos-mini.yml,
or secrets/kubeconfig/nixos-mini.yml) to stdout, after checking its MAC.
--extract prints one value: a dotted path (users.0.name) or sops's form
('["users"][0]["name"]').`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return exitcode.UsageErrorf("nixctl secrets cat PATH", "name one secret file")
			}
			opts.path = args[0]
			return runSecretsCat(opts)
		},
	}
	cmd.Flags().StringVar(&opts.extract, "extract", "", "print only the value at this key path")
	return cmd
}

func runSecretsCat(opts *secretsCatOptions) error {
	deps := opts.deps
	s, err := secretsSession(deps, true)
	if err != nil {
		return err
	}
	out, err := s.Cat(opts.path, opts.extract)
	if err != nil {
		return err
	}
	_, err = deps.IO.Out.Write(out)
	return err
}

// secretsFileError turns a failure on one file into a one-line error.
func secretsFileError(path string, err error) error {
	return exitcode.New(exitcode.Code(err), fmt.Errorf("%s: %w", path, err), exitcode.HintOf(err))
}
