package cli

import (
	"runtime"

	"github.com/spf13/cobra"

	"github.com/nixctl/nixctl/internal/app"
)

type versionOptions struct{ deps *app.Deps }

func newVersionCmd(deps *app.Deps) *cobra.Command {
	opts := &versionOptions{deps: deps}
	return &cobra.Command{
		Use:   "version",
		Short: "Print nixctl's version",
		Args:  noArgs,
		RunE:  func(cmd *cobra.Command, args []string) error { return runVersion(opts) },
	}
}

func runVersion(opts *versionOptions) error {
	io := opts.deps.IO
	if opts.deps.Config.JSON {
		return io.PrintJSON(map[string]string{"version": opts.deps.Version, "go": runtime.Version(), "platform": runtime.GOOS + "/" + runtime.GOARCH})
	}
	io.Printf("nixctl %s (%s, %s/%s)\n", opts.deps.Version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return nil
}
