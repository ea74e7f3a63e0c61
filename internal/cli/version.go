package cli

import (
	"runtime"

	"github.com/spf13/cobra"

	"github.com/nixctl/nixctl/internal/app"
	"github.com/nixctl/nixctl/internal/ui"
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
	return render(opts.deps, versionResult{Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH, Version: opts.deps.Version})
}

// versionResult is this build: nixctl's version, the Go release that built
// it and the platform it runs on.
type versionResult struct {
	Go       string `json:"go"`
	Platform string `json:"platform"`
	Version  string `json:"version"`
}

func (v versionResult) text(io *ui.IO) {
	io.Printf("nixctl %s (%s, %s)\n", v.Version, v.Go, v.Platform)
}
