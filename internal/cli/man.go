package cli

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"

	"github.com/nixctl/nixctl/internal/app"
	"github.com/nixctl/nixctl/internal/fault"
)

type manOptions struct {
	deps *app.Deps
	dir  string
}

// newManCmd writes man pages; nix/package.nix runs it at build time. It is
// hidden: users read the pages, they do not make them.
func newManCmd(deps *app.Deps) *cobra.Command {
	opts := &manOptions{deps: deps}
	return &cobra.Command{
		Use:    "man DIR",
		Short:  "Write nixctl's man pages (section 1) into DIR",
		Hidden: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return fault.Usagef("nixctl man DIR", "name one directory")
			}
			opts.dir = args[0]
			return runMan(cmd, opts)
		},
	}
}

func runMan(cmd *cobra.Command, opts *manOptions) error {
	if err := os.MkdirAll(opts.dir, 0o755); err != nil {
		return fault.New(fault.Failure, err, "")
	}
	root := cmd.Root()
	root.DisableAutoGenTag = true // reproducible: no generation date in the pages
	header := &doc.GenManHeader{Title: "NIXCTL", Section: "1", Source: "nixctl " + opts.deps.Version, Manual: "nixctl manual"}
	if err := doc.GenManTree(root, header, opts.dir); err != nil {
		return fault.New(fault.Failure, fmt.Errorf("writing man pages: %w", err), "")
	}
	return nil
}
