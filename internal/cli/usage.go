package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/nixctl/nixctl/internal/fault"
	"github.com/nixctl/nixctl/internal/inventory"
)

// A typo in a pre-commit hook or a CI step must fail the step: every way
// cobra would otherwise print the help and exit 0 (or exit 1 with its own
// text) becomes a usage error, exit 2, with the closest names.

// guardGroups makes every command that only groups others refuse an unknown
// subcommand. Run without one, a group prints its help, as git and gh do.
func guardGroups(cmd *cobra.Command) {
	for _, c := range cmd.Commands() {
		guardGroups(c)
	}
	if !cmd.HasSubCommands() || cmd.Runnable() {
		return
	}
	cmd.Args = unknownSubcommand
	cmd.RunE = func(cmd *cobra.Command, args []string) error { return cmd.Help() }
}

// unknownSubcommand is the Args check of a group: no argument may be left once
// cobra has looked for a subcommand.
func unknownSubcommand(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	hint := "'" + cmd.CommandPath() + " --help' lists the commands"
	if s := suggestCommands(cmd, args[0]); len(s) > 0 {
		hint = "did you mean '" + cmd.CommandPath() + " " + strings.Join(s, "' or '"+cmd.CommandPath()+" ") + "'?"
	}
	return fault.Usagef(hint, "unknown command %q for %q", args[0], cmd.CommandPath())
}

// suggestCommands are the subcommands (and aliases) closest to typed: cobra's
// own prefix and distance rules, then nixctl's, which also catch a swapped
// pair of letters ("deplyo").
func suggestCommands(cmd *cobra.Command, typed string) []string {
	if s := cmd.SuggestionsFor(typed); len(s) > 0 {
		return s
	}
	var names []string
	for _, c := range cmd.Commands() {
		if c.IsAvailableCommand() {
			names = append(names, c.Name())
			names = append(names, c.Aliases...)
		}
	}
	return inventory.Closest(typed, names, 2)
}

// flagError turns pflag's parse errors into usage errors, naming the closest
// flag of the command (its own and the global ones).
func flagError(cmd *cobra.Command, err error) error {
	hint := "see '" + cmd.CommandPath() + " --help'"
	if name, ok := unknownFlagName(err.Error()); ok {
		var names []string
		cmd.Flags().VisitAll(func(f *pflag.Flag) {
			if !f.Hidden {
				names = append(names, f.Name)
			}
		})
		switch c := inventory.Closest(name, names, 2); {
		case len(c) > 0:
			hint = "did you mean --" + strings.Join(c, " or --") + "?"
		case cmd.HasSubCommands() && subcommandHasFlag(cmd, name):
			// Flags before a command's name are its parent's (ci's
			// --json FILE must not swallow the global --json).
			hint = "--" + name + " is a flag of a command: put it after the command's name (" + cmd.CommandPath() + " COMMAND --" + name + ")"
		}
	}
	return fault.Usagef(hint, "%w", err)
}

// subcommandHasFlag reports whether a command below cmd has the flag name.
func subcommandHasFlag(cmd *cobra.Command, name string) bool {
	for _, c := range cmd.Commands() {
		if c.LocalFlags().Lookup(name) != nil || subcommandHasFlag(c, name) {
			return true
		}
	}
	return false
}

// unknownFlagName reads the flag's name out of pflag's "unknown flag: --name"
// (pflag has no typed error for it).
func unknownFlagName(msg string) (string, bool) {
	name, ok := strings.CutPrefix(msg, "unknown flag: --")
	if !ok {
		return "", false
	}
	if i := strings.IndexByte(name, '='); i >= 0 {
		name = name[:i]
	}
	return name, name != ""
}

// checkCounts refuses a count flag the user set below 1: 0 would otherwise
// silently mean "the default", and a negative number nothing at all.
func checkCounts(cmd *cobra.Command) error {
	for _, name := range []string{"parallel"} {
		f := cmd.Flags().Lookup(name)
		if f == nil || !f.Changed {
			continue
		}
		n, err := cmd.Flags().GetInt(name)
		if err != nil {
			return fmt.Errorf("--%s: %w", name, err)
		}
		if n < 1 {
			return fault.Usagef("pass 1 or more, or leave --"+name+" out for the inventory's default",
				"--%s %d: at least one at a time is needed", name, n)
		}
	}
	return nil
}

// newHelpCmd replaces cobra's help command, which answers an unknown topic
// ("nixctl help deplyo") with the usage text and exit 0.
func newHelpCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "help [COMMAND...]",
		Short: "Help about any command",
		RunE: func(cmd *cobra.Command, args []string) error {
			root := cmd.Root()
			target, rest, err := root.Find(args)
			if err != nil || target == nil {
				target, rest = root, args
			}
			// Find stops at the deepest command it knows; what is left names
			// no command of it.
			if len(rest) > 0 && !target.HasSubCommands() {
				return fault.Usagef("'"+target.CommandPath()+" --help' shows its usage", "%q has no command %q", target.CommandPath(), rest[0])
			}
			if len(rest) > 0 {
				return unknownSubcommand(target, rest)
			}
			return target.Help()
		},
	}
}
