package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/nixctl/nixctl/internal/app"
	"github.com/nixctl/nixctl/internal/fault"
	"github.com/nixctl/nixctl/internal/remote"
	"github.com/nixctl/nixctl/internal/secrets"
	"github.com/nixctl/nixctl/internal/ui"
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
		newSecretsAddCmd(deps),
		newSecretsEditCmd(deps),
		newSecretsRekeyCmd(deps),
		newSecretsAddHostCmd(deps),
		newSecretsRemoveHostCmd(deps),
		newSecretsRecipientCmd(deps),
		newSecretsCheckCmd(deps),
	)
	return cmd
}

// secretsEnv is what key lookup needs, from the command's dependencies.
func secretsEnv(deps *app.Deps) secrets.Env {
	e := deps.Env
	return secrets.Env{
		Home: deps.Home(), ConfigHome: e.ConfigHome, Runner: deps.Runner(),
		AgeKey: e.AgeKey, AgeKeyFile: e.AgeKeyFile, AgeKeyCmd: e.AgeKeyCmd,
		SSHKeyFile: e.AgeSSHKeyFile, SSHKeyCmd: e.AgeSSHKeyCmd,
	}
}

// secretsSession opens the fleet's secrets, with the keys of this machine
// when withKeys is set.
func secretsSession(ctx context.Context, deps *app.Deps, withKeys bool) (*secrets.Session, error) {
	fleet, err := deps.Fleet()
	if err != nil {
		return nil, err
	}
	var keys *secrets.Keyring
	if withKeys {
		keys = secrets.LoadKeyring(ctx, secretsEnv(deps))
	}
	s, err := secrets.NewSession(secrets.RepoOf(fleet), keys)
	if err != nil {
		return nil, err
	}
	s.Now = deps.Now
	return s, nil
}

// completeSecretFiles offers the files under the secrets directory.
func completeSecretFiles(deps *app.Deps) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		fleet, ok := completionFleet(deps, cmd)
		if !ok {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return secrets.RepoOf(fleet).Files(), cobra.ShellCompDirectiveNoFileComp
	}
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
		name = strings.Trim(notAnchorChar.ReplaceAllString(deps.Env.User, "-"), "-.")
		if name == "" {
			name = "admin"
		}
	}
	res, err := secrets.Init(secrets.RepoOf(fleet), secretsEnv(deps), name, deps.Now(), deps.Writer())
	if err != nil {
		return err
	}
	var addCommand string
	if !res.InConfig {
		cfg, _ := secrets.LoadSopsConfig(fleet.SopsConfigPath())
		known := func(n string) bool {
			if cfg == nil {
				return false
			}
			_, ok := cfg.Anchor(n)
			return ok
		}
		addCommand = secrets.SecondMachineCommand(secondMachineName(deps, opts.name, known), res.Recipient)
	}
	return render(deps, secretsInitResult{res, addCommand, deps.Config.DryRun})
}

// secretsInitResult is the key and .sops.yaml secrets init made or found,
// and, when this machine's key is not a recipient yet, the command that
// makes it one.
type secretsInitResult struct {
	*secrets.InitResult
	AddCommand string `json:"addCommand,omitempty"`
	dryRun     bool
}

func (r secretsInitResult) text(io *ui.IO) {
	created := didOrWould(r.dryRun, "created", "would be created")
	keyState, cfgState := "exists", "exists"
	if r.KeyCreated {
		keyState = created
	}
	if r.ConfigCreated {
		cfgState = created
	}
	io.Printf("key         %s (%s)\n", r.KeyFile, keyState)
	if r.KeyCreated && r.dryRun {
		// The key of this run is never written: its recipient is not the
		// one the real run will make.
		io.Printf("recipient   (the new key's, once it is made)\n")
		io.Printf(".sops.yaml  %s (%s)\n", r.Config, cfgState)
		return
	}
	io.Printf("recipient   %s\n", r.Recipient)
	io.Printf(".sops.yaml  %s (%s)\n", r.Config, cfgState)
	if !r.InConfig {
		io.Warnf("%s does not list this machine's recipient yet: on a machine that can already decrypt the secrets, run:", r.Config)
		io.Printf("%s\n", r.AddCommand)
	}
}

type secretsListOptions struct{ deps *app.Deps }

func newSecretsListCmd(deps *app.Deps) *cobra.Command {
	opts := &secretsListOptions{deps: deps}
	return &cobra.Command{
		Use:   "list",
		Short: "List every file under the secrets directory with its recipients and status",
		Long: `List every file under the secrets directory: path, format, recipients (by
their .sops.yaml anchor names, pgp keys too, else in full; shortened only when
a terminal is too narrow; --json always has them whole), last modified, and
status: ok, PLAINTEXT, recipients differ from .sops.yaml (pgp keys compared by
fingerprint; KMS and Vault keys listed as not checked), or MAC invalid
(checked when a key is here).`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return runSecretsList(cmd.Context(), opts) },
	}
}

func runSecretsList(ctx context.Context, opts *secretsListOptions) error {
	deps := opts.deps
	s, err := secretsSession(ctx, deps, true)
	if err != nil {
		return err
	}
	rep, err := s.Verify(ctx, secrets.VerifyOptions{})
	if err != nil {
		return err
	}
	return render(deps, secretsListResult{rep})
}

// secretsListResult is every file under the secrets directory.
type secretsListResult struct{ *secrets.VerifyReport }

func (r secretsListResult) json() any { return r.VerifyReport }

func (r secretsListResult) text(io *ui.IO) {
	header, rows := listRows(r.VerifyReport, io.Width(), func(f secrets.FileStatus) string {
		if f.OK() {
			return io.Paint("32", f.Status)
		}
		return io.Paint("31", f.Status)
	})
	io.Table(header, rows)
	if len(r.Files) == 0 {
		io.Logf("no files under %s", r.Dir)
	}
}

// listRows lays out secrets list: recipients in full, unless the table would
// not fit width (a terminal's; 0 is no limit), then those without an
// anchor name shortened (age1dzvj…rgfy); --json always has them in full.
func listRows(rep *secrets.VerifyReport, width int, status func(secrets.FileStatus) string) ([]string, [][]string) {
	header := []string{"path", "format", "recipients", "modified", "status"}
	build := func(short bool) [][]string {
		var rows [][]string
		for _, f := range rep.Files {
			names := slices.Clone(f.Recipients)
			for i, n := range names {
				if short && i < len(f.Keys) && (n == f.Keys[i].Value || n == f.Keys[i].String()) && len(n) > 16 {
					names[i] = n[:9] + "…" + n[len(n)-4:]
				}
			}
			rows = append(rows, []string{f.Path, string(f.Format), orDash(strings.Join(names, ",")), f.Modified.Local().Format(time.DateTime), status(f)})
		}
		return rows
	}
	rows := build(false)
	if width > 0 && ui.TableWidth(header, rows) > width {
		rows = build(true)
	}
	return header, rows
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
		RunE: func(cmd *cobra.Command, args []string) error { return runSecretsVerify(cmd.Context(), opts) },
	}
	cmd.Flags().BoolVar(&opts.staged, "staged", false, "check the files git has staged (pre-commit hook)")
	return cmd
}

func runSecretsVerify(ctx context.Context, opts *secretsVerifyOptions) error {
	deps := opts.deps
	s, err := secretsSession(ctx, deps, true)
	if err != nil {
		return err
	}
	rep, err := s.Verify(ctx, secrets.VerifyOptions{Staged: opts.staged, Runner: deps.Runner()})
	if err != nil {
		return err
	}
	return render(deps, verifyResult{rep, s.Keys.HasKeys()})
}

// verifyResult is what secrets verify found: a line per file.
type verifyResult struct {
	*secrets.VerifyReport
	// keys: a key was here, so the MACs could be checked.
	keys bool
}

func (r verifyResult) json() any { return okFirst{r.OK(), r.VerifyReport} }

func (r verifyResult) verdict() error {
	problems := r.Problems()
	if len(problems) == 0 {
		return nil
	}
	return fault.Newf(fault.Secrets, "encrypt plaintext with 'nixctl secrets add', run 'nixctl secrets rekey' for recipients, restore tampered files from git",
		"%d problem(s) in %s:\n  %s", len(problems), r.Dir, strings.Join(problems, "\n  "))
}

func (r verifyResult) text(io *ui.IO) {
	checked := 0
	for _, f := range r.Files {
		if f.MACChecked {
			checked++
		}
		io.Printf("%s %s\t%s\n", io.Mark(f.OK()), f.Path, f.Status)
	}
	if !r.keys && len(r.Files) > 0 {
		io.Logf("no age key here: MACs not checked (structure and recipients were)")
	}
	if r.OK() {
		io.Logf("%d file(s) verified, %d MAC(s) checked", len(r.Files), checked)
	}
}

type secretsCatOptions struct {
	deps      *app.Deps
	path      string
	extract   string
	inputType string
}

func newSecretsCatCmd(deps *app.Deps) *cobra.Command {
	opts := &secretsCatOptions{deps: deps}
	cmd := &cobra.Command{
		Use:               "cat PATH",
		Short:             "Decrypt a secret to stdout",
		ValidArgsFunction: completeSecretFiles(deps),
		Long: `Decrypt PATH (relative to the secrets directory, e.g. kubeconfig/nixos-mini.yml,
or secrets/kubeconfig/nixos-mini.yml) to stdout, after checking its MAC.
--extract prints one value: a dotted path (users.0.name) or sops's form
('["users"][0]["name"]').`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return fault.Usagef("nixctl secrets cat PATH", "name one secret file")
			}
			opts.path = args[0]
			return runSecretsCat(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.extract, "extract", "", "print only the value at this key path")
	addInputType(cmd, &opts.inputType)
	return cmd
}

func runSecretsCat(ctx context.Context, opts *secretsCatOptions) error {
	deps := opts.deps
	// Not printing: cat refuses --json.
	if deps.Config.JSON {
		// Plaintext never goes into JSON output, where it would end up in
		// logs and CI artifacts.
		return fault.Usagef("drop --json: cat prints the document itself (use --extract for one value)", "secrets cat has no JSON output")
	}
	s, err := sessionWithInputType(ctx, deps, opts.inputType)
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

type secretsAddOptions struct {
	deps   *app.Deps
	kind   string
	name   string
	from   string
	format string
	force  bool
	fromHost
}

func newSecretsAddCmd(deps *app.Deps) *cobra.Command {
	opts := &secretsAddOptions{deps: deps}
	cmd := &cobra.Command{
		Use:   "add KIND [NAME] --from FILE|-  |  add kubeconfig --from-host HOST",
		Short: "Encrypt a file into secrets/KIND/NAME for the recipients of .sops.yaml",
		Long: `Encrypt FILE (or stdin with --from -) into <secrets>/KIND/NAME.<ext>. KIND is a
folder under the secrets directory; for kubeconfig, NAME defaults to the
kubeconfig's current context. The input decides the format and extension: a
JSON object (.json), a YAML mapping (.yml), dotenv lines (.env), anything else
binary (.bin). The recipients are those of the .sops.yaml creation rule that
matches the path. An existing secret is replaced only with --force. The sops-nix
declaration that exposes the secret is printed afterwards.

  nixctl secrets add kubeconfig nixos-mini --from ~/.kube/config

--from-host HOST fetches a cluster's admin kubeconfig from a host of the
inventory over SSH instead (host key checked against known_hosts; through
sudo -n when the inventory sets sudo: true and the user is not root): the
output of 'k0s kubeconfig admin' by default, of --remote-command CMD, or the
file --remote-path FILE. A server: on localhost, 127.0.0.1 or ::1 is pointed
at the host's address (port kept), the context, cluster and user are named
after the host, and the result is encrypted into secrets/kubeconfig/HOST.yml
without touching the disk in plaintext. Run it again after a certificate
rotation: the file keeps its data key and recipients, as with edit.

  nixctl secrets add kubeconfig --from-host nixos-mini`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) < 1 || len(args) > 2 {
				return fault.Usagef("nixctl secrets add KIND [NAME] --from FILE", "expected KIND and an optional NAME, got %d arguments", len(args))
			}
			opts.kind = args[0]
			if len(args) == 2 {
				opts.name = args[1]
			}
			return runSecretsAdd(cmd.Context(), opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.from, "from", "", "file to encrypt, or - for stdin (required)")
	f.StringVar(&opts.format, "format", "", "force the format: yaml, json, dotenv, ini or binary")
	f.BoolVar(&opts.force, "force", false, "replace an existing secret")
	opts.fromHost.flags(f)
	return cmd
}

// maxInput bounds what add reads.
const maxInput = 4 << 20

func runSecretsAdd(ctx context.Context, opts *secretsAddOptions) error {
	deps := opts.deps
	if opts.host != "" || opts.remotePath != "" || opts.remoteCommand != "" {
		return runSecretsAddFromHost(ctx, opts)
	}
	var format secrets.Format
	if opts.format != "" {
		f, ok := secrets.ParseFormat(opts.format)
		if !ok {
			return fault.Usagef("use yaml, json, dotenv, ini or binary", "unknown --format %q", opts.format)
		}
		format = f
	}
	var r io.Reader
	switch opts.from {
	case "":
		return fault.Usagef("nixctl secrets add "+opts.kind+" --from FILE (or --from - for stdin)", "--from is required")
	case "-":
		r = deps.IO.In
	default:
		fh, err := os.Open(opts.from)
		if err != nil {
			return fault.New(fault.Usage, fmt.Errorf("--from: %w", err), "name a readable file")
		}
		defer fh.Close()
		r = fh
	}
	input, err := io.ReadAll(io.LimitReader(r, maxInput+1))
	if err != nil {
		return fault.New(fault.Failure, fmt.Errorf("reading --from: %w", err), "")
	}
	if len(input) > maxInput {
		return fault.Usagef("secrets are small files; store large data elsewhere", "the input is larger than %d bytes", maxInput)
	}
	s, err := secretsSession(ctx, deps, false)
	if err != nil {
		return err
	}
	res, err := s.Add(secrets.AddOptions{Kind: opts.kind, Name: opts.name, Input: input, Format: format, Force: opts.force}, deps.Writer())
	if err != nil {
		return err
	}
	return render(deps, secretAdded{res, deps.Config.DryRun})
}

// secretAdded is the file secrets add wrote and the declaration that
// exposes it.
type secretAdded struct {
	*secrets.AddResult
	dryRun bool
}

func (r secretAdded) text(io *ui.IO) {
	verb := writeVerb(r.dryRun, r.Replaced, "replace")
	io.Logf("%s %s %s (%s) for %s", io.OK(), verb, r.Path, r.Format, strings.Join(r.Recipients, ", "))
	io.Printf("%s", r.Declaration)
}

type secretsEditOptions struct {
	deps      *app.Deps
	path      string
	inputType string
}

func newSecretsEditCmd(deps *app.Deps) *cobra.Command {
	opts := &secretsEditOptions{deps: deps}
	cmd := &cobra.Command{
		Use:               "edit PATH",
		Short:             "Edit a secret in $VISUAL/$EDITOR and re-encrypt it",
		ValidArgsFunction: completeSecretFiles(deps),
		Long: `Decrypt PATH into a 0600 file inside a 0700 directory under $XDG_RUNTIME_DIR
(else the temp dir), run $VISUAL or $EDITOR (split on spaces: EDITOR='code --wait'
works; no shell), then re-encrypt with the same data key if the content changed
and replace the file atomically. The plaintext file is removed whatever happens,
Ctrl-C included. Content that no longer parses keeps the original file; the
edited text is kept encrypted with the file's key and offered on the next edit.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return fault.Usagef("nixctl secrets edit PATH", "name one secret file")
			}
			opts.path = args[0]
			return runSecretsEdit(cmd.Context(), opts)
		},
	}
	addInputType(cmd, &opts.inputType)
	return cmd
}

// addInputType adds sops's --input-type: the file's format when its
// extension does not say it (sops-nix's format = "ini" on a .enc file).
func addInputType(cmd *cobra.Command, v *string) {
	cmd.Flags().StringVar(v, "input-type", "", "the file's format when its extension does not say it: yaml, json, dotenv, ini or binary (as sops --input-type)")
}

// sessionWithInputType opens the secrets with keys and --input-type.
func sessionWithInputType(ctx context.Context, deps *app.Deps, inputType string) (*secrets.Session, error) {
	s, err := secretsSession(ctx, deps, true)
	if err != nil || inputType == "" {
		return s, err
	}
	f, ok := secrets.ParseFormat(inputType)
	if !ok {
		return nil, fault.Usagef("use yaml, json, dotenv, ini or binary", "unknown --input-type %q", inputType)
	}
	s.InputType = f
	return s, nil
}

func runSecretsEdit(ctx context.Context, opts *secretsEditOptions) error {
	deps := opts.deps
	editor := strings.Fields(deps.Env.Visual)
	if len(editor) == 0 {
		editor = strings.Fields(deps.Env.Editor)
	}
	if len(editor) == 0 {
		editor = []string{"vi"}
	}
	if _, err := deps.Runner().LookPath(editor[0]); err != nil {
		return fault.Usagef("set $VISUAL or $EDITOR, e.g. EDITOR=nano or EDITOR='code --wait'", "editor %q not found", editor[0])
	}
	s, err := sessionWithInputType(ctx, deps, opts.inputType)
	if err != nil {
		return err
	}
	base := deps.Env.RuntimeDir
	if st, err := os.Stat(base); base == "" || err != nil || !st.IsDir() {
		base = deps.Env.TempDir
	}
	io := deps.IO
	res, err := s.Edit(ctx, opts.path, secrets.EditOptions{
		Editor: editor, Runner: deps.Runner(),
		Stdin: io.In, Stdout: io.Err, Stderr: io.Err,
		TempBase: base, StateDir: deps.StateDir(),
		Resume: func(saved time.Time) (bool, error) {
			if !io.InTTY {
				return true, nil
			}
			return io.Confirm(fmt.Sprintf("your last edit of %s was rejected (%s); start from it?", opts.path, saved.Local().Format(time.DateTime)))
		},
		Logf: io.Logf,
	}, deps.Writer())
	if err != nil {
		return err
	}
	return render(deps, secretEdited{res})
}

// secretEdited says whether an edit changed the secret.
type secretEdited struct{ *secrets.EditResult }

func (r secretEdited) text(io *ui.IO) {
	if r.Changed {
		io.Logf("%s %s re-encrypted", io.OK(), r.Path)
	} else {
		io.Logf("%s unchanged", r.Path)
	}
}

type secretsRekeyOptions struct {
	deps  *app.Deps
	paths []string
}

func newSecretsRekeyCmd(deps *app.Deps) *cobra.Command {
	opts := &secretsRekeyOptions{deps: deps}
	return &cobra.Command{
		Use:               "rekey [PATH...]",
		Short:             "Bring every secret's recipients in line with .sops.yaml",
		ValidArgsFunction: completeSecretFiles(deps),
		Long: `Re-encrypt each file's data key for the recipients its .sops.yaml creation rule
lists now (what sops updatekeys does, keeping the data key). When a recipient
was removed, the data key is rotated as well and every value re-encrypted, so a
retired machine cannot read what is written from now on. With no PATH, every
sops file under the secrets directory. One line per file says who gains and who
loses access; the files are written only if every one could be rekeyed.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.paths = args
			return runSecretsRekey(cmd.Context(), opts)
		},
	}
}

func runSecretsRekey(ctx context.Context, opts *secretsRekeyOptions) error {
	deps := opts.deps
	s, err := secretsSession(ctx, deps, true)
	if err != nil {
		return err
	}
	return rekeyAndReport(ctx, deps, s, opts.paths)
}

// rekeyAndReport rekeys and prints one line per file (or JSON).
func rekeyAndReport(ctx context.Context, deps *app.Deps, s *secrets.Session, paths []string) error {
	return reportRekey(deps, func(report func(secrets.RekeyLine)) ([]secrets.RekeyLine, error) {
		return s.RekeyAll(ctx, paths, deps.Writer(), report)
	})
}

// reportRekey runs a rekey, printing one line per file as it is planned
// (who gains and who loses access), or JSON at the end.
func reportRekey(deps *app.Deps, run func(func(secrets.RekeyLine)) ([]secrets.RekeyLine, error)) error {
	lines, err := run(textAsItComes(deps, func(io *ui.IO, l secrets.RekeyLine) {
		io.Printf("%s %s\n", io.Mark(l.Error == ""), l)
	}))
	return render(deps, rekeyResult{lines, err})
}

// rekeyResult is a rekey's line per file; their text was printed as they
// came.
type rekeyResult struct {
	lines []secrets.RekeyLine
	err   error
}

func (r rekeyResult) text(*ui.IO)    {}
func (r rekeyResult) json() any      { return nonNil(r.lines) }
func (r rekeyResult) verdict() error { return r.err }

type secretsHostOptions struct {
	deps      *app.Deps
	host      string
	keyFile   string
	pathRegex string
	group     int
}

func newSecretsAddHostCmd(deps *app.Deps) *cobra.Command {
	opts := &secretsHostOptions{deps: deps}
	cmd := &cobra.Command{
		Use:   "add-host HOST",
		Short: "Let a host of the inventory decrypt the secrets (sops-nix), then rekey",
		Long: `Fetch HOST's ed25519 SSH host key over SSH (checked against known_hosts; a key
known_hosts does not hold is shown by its SHA256 fingerprint and needs
confirmation or --yes), convert it to the age recipient sops-nix derives from
/etc/ssh/ssh_host_ed25519_key (ssh-to-age), add it to .sops.yaml under an
anchor named after the host in the creation rules that cover the host's
secrets, changing only the lines it must, then rekey the files of the rules
that changed, and those only. The host's secrets are the globs of its
secrets: in nixctl.yaml (by default secrets/server.yaml, secrets/server/**
and secrets/hosts/HOST/**); a rule that would also open other files (the
users' kubeconfigs) is refused unless named with --rule, the exact path_regex
of one rule. A file whose recipients already differed from its rule is
reported and left alone. If any file to rekey cannot be (no key here, a
pgp-only rule), nothing is written, .sops.yaml included. A list shared
through a YAML anchor with rules not asked for is not widened: the rule asked
for gets its own list (said on stderr). With key_groups, the host joins one
group (--group N, else the first listing age keys) and nixctl says whether it
can decrypt alone under shamir_threshold.
--key-file takes the public key instead of asking the host: an
ssh_host_ed25519_key.pub line or an age1 recipient.`,
		ValidArgsFunction: completeNames(deps, completeHosts),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return fault.Usagef("nixctl secrets add-host HOST", "name one host of the inventory")
			}
			opts.host = args[0]
			return runSecretsAddHost(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.keyFile, "key-file", "", "the host's public key file (no SSH)")
	cmd.Flags().StringVar(&opts.pathRegex, "rule", "", "the creation rule with this exact path_regex (default: the rules of the host's secrets:)")
	cmd.Flags().IntVar(&opts.group, "group", 0, "with key_groups: the group to join, from 1 (default: the first group that lists age keys)")
	return cmd
}

func runSecretsAddHost(ctx context.Context, opts *secretsHostOptions) error {
	deps := opts.deps
	fleet, err := deps.Fleet()
	if err != nil {
		return err
	}
	if err := secrets.CheckAnchorName(opts.host); err != nil {
		return err
	}
	h, ok := fleet.Host(opts.host)
	if !ok {
		return fault.Usagef("add the host to nixctl.yaml first; 'nixctl inventory list' shows the hosts", "no host named %q in the inventory", opts.host)
	}
	var recipient string
	if opts.keyFile != "" {
		data, err := os.ReadFile(opts.keyFile)
		if err != nil {
			return fault.New(fault.Usage, fmt.Errorf("--key-file: %w", err), "pass /etc/ssh/ssh_host_ed25519_key.pub copied from the host")
		}
		if recipient, err = secrets.ParseRecipientLine(data); err != nil {
			return fault.New(fault.Usage, fmt.Errorf("--key-file %s: %w", opts.keyFile, err), "pass the host's ssh_host_ed25519_key.pub")
		}
	} else {
		ssh, err := deps.SSH()
		if err != nil {
			return err
		}
		recipient, _, err = secrets.HostRecipient(ctx, ssh, fleet.Dir, h, func(k remote.HostKey) error {
			deps.IO.Logf("%s (%s) is not in known_hosts; its %s key fingerprint is %s", h.Name, h.Address, k.Type, k.Fingerprint)
			return deps.RequireYes("trust this host key and let " + h.Name + " decrypt the secrets?")
		})
		if err != nil {
			return err
		}
	}
	s, err := secretsSession(ctx, deps, true)
	if err != nil {
		return err
	}
	sel := secrets.RuleWithRegex(opts.pathRegex)
	if opts.pathRegex == "" {
		globs, _ := fleet.SecretGlobs(h)
		command := "secrets add-host " + h.Name
		if opts.keyFile != "" {
			command += " --key-file " + shellWord(opts.keyFile)
		}
		if sel, err = chooseRules(s, h.Name, globs, command); err != nil {
			return err
		}
	}
	edit, err := s.HostEdit(opts.host, recipient, sel, opts.group-1)
	if err != nil {
		return err
	}
	cfg := secrets.RepoOf(fleet).Rel(s.Config.Path)
	if !edit.Changed() {
		deps.IO.Logf("%s already lists %s in the rules asked for", cfg, opts.host)
		return nil
	}
	return applyAccessChange(deps, s, edit, func() {
		mark := deps.IO.OK()
		for _, j := range edit.Joins {
			if !j.Alone {
				mark = deps.IO.Fail()
			}
		}
		deps.IO.Logf("%s %s: %s added as %s to %s", mark, cfg, recipient, opts.host, ruleLabels(edit))
		for _, j := range edit.Joins {
			alone := "it can decrypt alone"
			if !j.Alone {
				alone = fmt.Sprintf("it cannot decrypt alone: %d of the %d groups are needed (shamir_threshold)", j.Required, j.Groups)
			}
			deps.IO.Logf("  %s: %s joins key group %d of %d; %s", j.Rule.Label(), opts.host, j.Group+1, j.Groups, alone)
		}
	})
}

// ruleLabels names the rules an edit changed.
func ruleLabels(edit *secrets.Edit) string {
	var labels []string
	for _, r := range edit.After.Rules() {
		for _, i := range edit.Rules {
			if r.Index == i {
				labels = append(labels, r.Label())
			}
		}
	}
	return strings.Join(labels, ", ")
}

// applyAccessChange plans the rekey of the files whose rule edit changes,
// reports what was done to .sops.yaml (said), the files left alone and
// each file's gains and losses, then writes everything or, when a file
// cannot be rekeyed, nothing.
func applyAccessChange(deps *app.Deps, s *secrets.Session, edit *secrets.Edit, said func()) error {
	ch, err := s.PlanAccess(edit)
	if err != nil {
		return err
	}
	said()
	for _, n := range edit.Notes {
		deps.IO.Logf("  note: %s", n)
	}
	for _, d := range ch.Drifted {
		deps.IO.Logf("! %s: left alone: its recipients already differed from its rule ('nixctl secrets rekey %s' brings it in line)", d, d)
	}
	return reportRekey(deps, func(report func(secrets.RekeyLine)) ([]secrets.RekeyLine, error) {
		return s.Apply(ch, deps.Writer(), report)
	})
}

func newSecretsRemoveHostCmd(deps *app.Deps) *cobra.Command {
	opts := &secretsHostOptions{deps: deps}
	return &cobra.Command{
		Use:   "remove-host HOST",
		Short: "Remove a host's key from .sops.yaml and rekey (rotating data keys)",
		Long: `Remove the key anchored as HOST from .sops.yaml (every creation rule, then
its keys: entry), then rekey the files of the rules that changed: their data
keys rotate, so the retired host cannot read what is written from now on.
Files whose recipients already differed from their rule are left alone; if
any file cannot be rekeyed, nothing is written. (What it could already read
stays readable from
git history: rotate the secrets themselves if that matters.)`,
		ValidArgsFunction: completeNames(deps, completeHosts),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return fault.Usagef("nixctl secrets remove-host HOST", "name one host")
			}
			opts.host = args[0]
			return runSecretsRemoveHost(cmd.Context(), opts)
		},
	}
}

func runSecretsRemoveHost(ctx context.Context, opts *secretsHostOptions) error {
	return removeRecipient(ctx, opts.deps, opts.host, func(k secrets.Key, rules, config string) string {
		return fmt.Sprintf("%s (%s) removed from %s: %s", opts.host, k.Value, config, rules)
	})
}

// removeRecipient takes the key anchored as name out of .sops.yaml and
// rekeys the files of the rules that listed it; said is what was done,
// given the key, the rules and .sops.yaml's path.
func removeRecipient(ctx context.Context, deps *app.Deps, name string, said func(k secrets.Key, rules, config string) string) error {
	s, err := secretsSession(ctx, deps, true)
	if err != nil {
		return err
	}
	edit, k, err := s.RemoveHostEdit(name)
	if err != nil {
		return err
	}
	return applyAccessChange(deps, s, edit, func() {
		deps.IO.Logf("%s %s", deps.IO.OK(), said(k, ruleLabels(edit), s.Repo.Rel(s.Config.Path)))
	})
}

// writeVerb says what a secrets write did to its file, or would do in a
// dry run; replace is how it says replacing ("replace the content of").
func writeVerb(dryRun, replaced bool, replace string) string {
	switch {
	case dryRun && replaced:
		return "would " + replace
	case dryRun:
		return "would write"
	case replaced:
		return strings.Replace(replace, "replace", "replaced", 1)
	}
	return "wrote"
}
