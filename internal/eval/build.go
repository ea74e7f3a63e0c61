package eval

import (
	"context"

	"github.com/nixctl/nixctl/internal/execx"
	"github.com/nixctl/nixctl/internal/nix"
)

// DrvInstallables names, for nix build, the outputs of derivations an
// evaluation returned, in the syntax the installed nix reads (it asks nix
// --version), so the build evaluates nothing again. ok is false when the
// version cannot be told: build the flake attributes instead.
func DrvInstallables(ctx context.Context, r execx.Runner, drvs []string) (installables []string, ok bool) {
	res, err := r.Run(ctx, execx.Cmd{Argv: nix.Version(), ReadOnly: true})
	if err != nil {
		return nil, false
	}
	release, err := nix.ParseRelease(string(res.Stdout))
	if err != nil {
		return nil, false
	}
	out := make([]string, len(drvs))
	for i, d := range drvs {
		out[i] = nix.DrvInstallable(d, release)
	}
	return out, true
}
