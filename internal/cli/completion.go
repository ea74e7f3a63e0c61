package cli

import (
	"strings"

	"github.com/spf13/cobra"

	"github.com/nixctl/nixctl/internal/app"
	"github.com/nixctl/nixctl/internal/config"
	"github.com/nixctl/nixctl/internal/fault"
	"github.com/nixctl/nixctl/internal/inventory"
)

type completionOptions struct {
	deps  *app.Deps
	shell string
}

func newCompletionCmd(deps *app.Deps) *cobra.Command {
	opts := &completionOptions{deps: deps}
	return &cobra.Command{
		Use:   "completion bash|zsh|fish",
		Short: "Print a shell completion script (completes host, profile and tag names)",
		Long: `Print a completion script for your shell. Host, profile and @tag names are
completed from the inventory of the repository you are in.

  bash: source <(nixctl completion bash)
  zsh:  nixctl completion zsh > "${fpath[1]}/_nixctl"
  fish: nixctl completion fish > ~/.config/fish/completions/nixctl.fish`,
		ValidArgs: []string{"bash", "zsh", "fish"},
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return fault.Usagef("nixctl completion bash|zsh|fish", "name one shell")
			}
			opts.shell = args[0]
			return runCompletion(cmd, opts)
		},
	}
}

func runCompletion(cmd *cobra.Command, opts *completionOptions) error {
	root, out := cmd.Root(), opts.deps.IO.Out
	switch opts.shell {
	case "bash":
		return root.GenBashCompletionV2(out, true)
	case "zsh":
		return root.GenZshCompletion(out)
	case "fish":
		return root.GenFishCompletion(out, true)
	}
	return fault.Usagef("nixctl completion bash|zsh|fish", "unknown shell %q", opts.shell)
}

// Kinds of names a positional argument completes.
const (
	completeHosts    = 1 << iota // host names and host @tags
	completeProfiles             // profile names and profile @tags
)

// completeNames is a ValidArgsFunction completing inventory names and @tags.
// It never fails loudly: outside a repository it offers nothing.
func completeNames(deps *app.Deps, kinds int) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		fleet, ok := completionFleet(deps, cmd)
		if !ok {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var out []string
		seenTag := map[string]bool{}
		addTags := func(tags []string) {
			for _, t := range tags {
				if !seenTag[t] {
					seenTag[t] = true
					out = append(out, "@"+t)
				}
			}
		}
		if kinds&completeHosts != 0 {
			for _, h := range fleet.Hosts {
				out = append(out, h.Name)
				addTags(h.Tags)
			}
		}
		if kinds&completeProfiles != 0 {
			for _, p := range fleet.Profiles {
				out = append(out, p.Name)
				addTags(p.Tags)
			}
		}
		var matches []string
		for _, c := range out {
			if strings.HasPrefix(c, toComplete) {
				matches = append(matches, c)
			}
		}
		return matches, cobra.ShellCompDirectiveNoFileComp
	}
}

// completionFleet loads the inventory for a completion request, which runs
// without the root command's PersistentPreRunE; false means "offer nothing".
func completionFleet(deps *app.Deps, cmd *cobra.Command) (*inventory.Fleet, bool) {
	if deps.Config == nil {
		cfg, err := config.Load(cmd.Flags(), deps.Env.Settings)
		if err != nil {
			return nil, false
		}
		deps.Config = cfg
	}
	fleet, err := deps.Fleet()
	return fleet, err == nil
}
