package cli

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/nixctl/nixctl/internal/app"
	"github.com/nixctl/nixctl/internal/fault"
	"github.com/nixctl/nixctl/internal/inventory"
	"github.com/nixctl/nixctl/internal/secrets"
	"github.com/nixctl/nixctl/internal/ui"
)

func newSecretsRecipientCmd(deps *app.Deps) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "recipient",
		Short: "Let your own machines (laptop, desktop) read the secrets, or stop them",
		Long: `A recipient is an age key with a name: the name is its anchor in .sops.yaml's
keys:, as for hosts. Your laptop and desktop each keep an age key in
~/.config/sops/age/keys.txt ('nixctl secrets init' makes one and prints the
command to run here).`,
	}
	cmd.AddCommand(newSecretsRecipientAddCmd(deps), newSecretsRecipientRemoveCmd(deps), newSecretsRecipientListCmd(deps))
	return cmd
}

type recipientAddOptions struct {
	deps      *app.Deps
	name      string
	recipient string
	keyFile   string
	sshPubkey string
	rules     []string
}

func newSecretsRecipientAddCmd(deps *app.Deps) *cobra.Command {
	opts := &recipientAddOptions{deps: deps}
	cmd := &cobra.Command{
		Use:   "add NAME age1…|--key-file FILE|--ssh-pubkey FILE",
		Short: "Add a named age recipient to the rules of its machine's secrets, then rekey those files",
		Long: `Record the recipient under the anchor NAME in .sops.yaml's keys:, add it to
the creation rules of the secrets its machine needs, and rekey exactly the
files of those rules (their data keys are kept: adding a reader revokes no
one). Files whose recipients already differ from .sops.yaml are reported and
left alone. If one file cannot be rekeyed, nothing is written.

The rules are those given with --rule (repeatable, exact path_regex), else
those covering the secrets of the inventory's profiles whose recipient: is
NAME (their secrets: globs; by default secrets/home.yaml and
secrets/kubeconfig/**). A rule that would also open other files is refused
unless named with --rule.

  nixctl secrets recipient add desktop age1…
  nixctl secrets recipient add desktop --key-file ~/keys.txt   (age key file)
  nixctl secrets recipient add desktop --ssh-pubkey ~/.ssh/id_ed25519.pub`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) < 1 || len(args) > 2 {
				return fault.Usagef("nixctl secrets recipient add NAME age1…", "expected NAME and an optional age1 recipient, got %d arguments", len(args))
			}
			opts.name = args[0]
			if len(args) == 2 {
				opts.recipient = args[1]
			}
			return runSecretsRecipientAdd(cmd.Context(), opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.keyFile, "key-file", "", "an age key file (keys.txt) or a file holding an age1 recipient")
	f.StringVar(&opts.sshPubkey, "ssh-pubkey", "", "an ssh-ed25519 public key file, converted to its age recipient")
	f.StringArrayVar(&opts.rules, "rule", nil, "the creation rule with this exact path_regex (repeatable)")
	return cmd
}

func runSecretsRecipientAdd(ctx context.Context, opts *recipientAddOptions) error {
	deps := opts.deps
	if err := secrets.CheckAnchorName(opts.name); err != nil {
		return err
	}
	n := 0
	for _, v := range []string{opts.recipient, opts.keyFile, opts.sshPubkey} {
		if v != "" {
			n++
		}
	}
	if err := secrets.CheckRecipientSource(n); err != nil {
		return err
	}
	var recipient string
	var err error
	switch {
	case opts.recipient != "":
		if !strings.HasPrefix(opts.recipient, "age1") {
			return fault.Usagef("pass an age1… recipient, --key-file FILE or --ssh-pubkey FILE", "%q is not an age recipient", opts.recipient)
		}
		recipient, err = secrets.ParseRecipientLine([]byte(opts.recipient))
	case opts.keyFile != "":
		recipient, err = secrets.RecipientFromKeyFile(opts.keyFile)
		if err != nil {
			err = fmt.Errorf("--key-file %s: %w", opts.keyFile, err)
		}
	default:
		recipient, err = secrets.RecipientFromSSHPubkey(opts.sshPubkey)
		if err != nil {
			err = fmt.Errorf("--ssh-pubkey %s: %w", opts.sshPubkey, err)
		}
	}
	if err != nil {
		return fault.New(fault.Usage, err, "pass the machine's age1 recipient ('age-keygen -y ~/.config/sops/age/keys.txt' there), its keys.txt, or its ssh-ed25519 .pub file")
	}
	fleet, err := deps.Fleet()
	if err != nil {
		return err
	}
	s, err := secretsSession(ctx, deps, true)
	if err != nil {
		return err
	}
	var sel secrets.RuleSelector
	if len(opts.rules) > 0 {
		sel = ruleWithRegexes(opts.rules)
	} else {
		var globs []string
		for i := range fleet.Profiles {
			if p := &fleet.Profiles[i]; p.Recipient == opts.name {
				g, _ := fleet.ProfileSecretGlobs(p)
				globs = append(globs, g...)
			}
		}
		if len(globs) == 0 {
			globs, _ = fleet.ProfileSecretGlobs(&inventory.Profile{})
		}
		if sel, err = chooseRules(s, opts.name, globs, "secrets recipient add "+opts.name+" "+recipient); err != nil {
			return err
		}
	}
	edit, err := s.RecipientEdit(opts.name, recipient, sel)
	if err != nil {
		return err
	}
	cfg := s.Repo.Rel(s.Config.Path)
	if !edit.Changed() {
		deps.IO.Logf("%s already lists %s in the rules asked for", cfg, opts.name)
		return nil
	}
	return applyAccessChange(deps, s, edit, func() {
		deps.IO.Logf("%s %s joins %s in %s", deps.IO.OK(), opts.name, ruleLabels(edit), cfg)
	})
}

// ruleWithRegexes selects the rules whose path_regex is one of res.
func ruleWithRegexes(res []string) secrets.RuleSelector {
	return func(r secrets.CreationRule) bool { return slices.Contains(res, r.PathRegex) }
}

// chooseRules finds the rules covering globs, refusing (with the command to
// run instead) rules that would open files the globs do not name.
func chooseRules(s *secrets.Session, name string, globs []string, command string) (secrets.RuleSelector, error) {
	ch, err := s.RulesForGlobs(globs)
	if err != nil {
		return nil, err
	}
	if len(ch.Rules) == 0 {
		return nil, fault.Newf(fault.Secrets, "add a creation rule for them to "+s.Repo.Rel(s.Config.Path)+", or pass --rule REGEX",
			"no creation rule covers the secrets of %s (%s)", name, strings.Join(globs, ", "))
	}
	if len(ch.Beyond) > 0 {
		var flags []string
		for _, r := range ch.Rules {
			flags = append(flags, "--rule "+shellWord(r))
		}
		return nil, fault.Newf(fault.Secrets,
			fmt.Sprintf("give those files a creation rule of their own, set secrets: for %s in nixctl.yaml, or accept it: nixctl %s %s", name, command, strings.Join(flags, " ")),
			"the rule(s) %s covering the secrets of %s (%s) also cover %s, which %s does not need",
			strings.Join(ch.Rules, ", "), name, strings.Join(globs, ", "), strings.Join(ch.Beyond, ", "), name)
	}
	return ch.Selector(), nil
}

// shellWord quotes a regex for a command line the user copies.
func shellWord(s string) string {
	if strings.ContainsAny(s, " \t'\"\\$`|&;<>()*?[]{}!#~^") {
		return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
	}
	return s
}

type recipientRemoveOptions struct {
	deps *app.Deps
	name string
}

func newSecretsRecipientRemoveCmd(deps *app.Deps) *cobra.Command {
	opts := &recipientRemoveOptions{deps: deps}
	return &cobra.Command{
		Use:   "remove NAME",
		Short: "Remove a named recipient from .sops.yaml and rekey the files it could read",
		Long: `Remove the key anchored as NAME from .sops.yaml (keys: and every rule), then
rekey exactly the files of the rules that listed it, rotating their data keys
so the retired machine cannot read what is written from now on (what it could
already read stays readable from git history: rotate those secrets if that
matters). If one file cannot be rekeyed, nothing is written.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return fault.Usagef("nixctl secrets recipient remove NAME", "name one recipient ('nixctl secrets recipient list' shows them)")
			}
			opts.name = args[0]
			return runSecretsRecipientRemove(cmd.Context(), opts)
		},
	}
}

func runSecretsRecipientRemove(ctx context.Context, opts *recipientRemoveOptions) error {
	return removeRecipient(ctx, opts.deps, opts.name, func(k secrets.Key, rules, config string) string {
		return fmt.Sprintf("%s (%s) leaves %s in %s", opts.name, k, rules, config)
	})
}

func newSecretsRecipientListCmd(deps *app.Deps) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "Who can read which file: every recipient with its rules and files",
		Long: `List every recipient of .sops.yaml (by anchor name) and every other recipient
found in a file, with the creation rules that list it and the files it can
decrypt now (from each file's own recipients, so drift shows). No key needed.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := secretsSession(cmd.Context(), deps, false)
			if err != nil {
				return err
			}
			readers, err := s.Readers()
			if err != nil {
				return err
			}
			return render(deps, readersResult(readers))
		},
	}
}

// readersResult is who can read which file.
type readersResult []secrets.Reader

func (r readersResult) text(io *ui.IO) {
	var rows [][]string
	for _, x := range r {
		rows = append(rows, []string{x.Name, x.Recipient, orDash(strings.Join(x.Rules, " ")), orDash(strings.Join(x.Files, " "))})
	}
	io.Table([]string{"name", "recipient", "rules", "files"}, rows)
}

// secondMachineName is the name suggested for this machine's key when it is
// not a recipient yet: --name, else the profile whose recipient: is missing
// from .sops.yaml, else the machine's host name.
func secondMachineName(deps *app.Deps, given string, known func(string) bool) string {
	if given != "" {
		return given
	}
	if fleet, err := deps.Fleet(); err == nil {
		for _, p := range fleet.Profiles {
			if p.Recipient != "" && !known(p.Recipient) {
				return p.Recipient
			}
		}
	}
	h, err := os.Hostname()
	if err != nil {
		return "this-machine"
	}
	if name := strings.Trim(notAnchorChar.ReplaceAllString(strings.SplitN(h, ".", 2)[0], "-"), "-."); name != "" {
		return name
	}
	return "this-machine"
}
