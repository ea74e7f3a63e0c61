package home

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/nixctl/nixctl/internal/execx"
	"github.com/nixctl/nixctl/internal/fault"
	"github.com/nixctl/nixctl/internal/inventory"
	"github.com/nixctl/nixctl/internal/nix"
)

// Built is a profile's activation package.
type Built struct {
	Profile string `json:"profile"`
	Attr    string `json:"attr"`
	// Path is the store path of the generation; "" under --dry-run.
	Path string `json:"path"`
}

// Build builds the activation packages of profiles with one nix build, so nix
// shares the work between them. Under dry-run the paths are empty.
func Build(ctx context.Context, r execx.Runner, fleet *inventory.Fleet, profiles []inventory.Profile, extra []string) ([]Built, error) {
	attrs := make([]string, len(profiles))
	names := make([]string, len(profiles))
	for i, p := range profiles {
		attrs[i], names[i] = p.Attr, p.Name
	}
	argv := nix.Build(nix.ActivationInstallables(fleet.Flake, attrs...), extra...)
	res, err := r.Run(ctx, execx.Cmd{Argv: argv})
	if err != nil {
		if ctx.Err() != nil {
			return nil, err
		}
		var stderr []byte
		if res != nil {
			stderr = res.Stderr
		}
		msg := "nix build failed"
		var ee *execx.ExitError
		hint := "run 'nixctl check " + names[0] + "' for every error, or add -v to see the nix command"
		if errs := nix.ParseErrors(stderr, fleet.Dir); len(errs) > 0 {
			msg = errs[0].String()
		} else if errors.As(err, &ee) {
			msg = ee.Error()
		}
		// A builder that failed: its last log line says why, nix log the rest.
		for _, f := range nix.ParseBuildFailures(stderr) {
			if f.Dependencies {
				continue
			}
			if len(f.Log) > 0 {
				msg += ": " + f.Log[len(f.Log)-1]
			}
			hint = "nix log " + f.Drv + " shows the whole build log"
			break
		}
		return nil, fault.Newf(fault.Build, hint, "building %s failed: %s", strings.Join(names, ", "), msg)
	}
	out := make([]Built, len(profiles))
	for i, p := range profiles {
		out[i] = Built{Profile: p.Name, Attr: p.Attr}
	}
	if len(res.Stdout) == 0 { // dry-run: nothing was built
		return out, nil
	}
	results, err := nix.ParseBuildResults(res.Stdout)
	if err != nil {
		return nil, err
	}
	if len(results) != len(profiles) {
		return nil, fmt.Errorf("nix build returned %d results for %d profiles", len(results), len(profiles))
	}
	for i := range out {
		out[i].Path = results[i].Out()
	}
	return out, nil
}
