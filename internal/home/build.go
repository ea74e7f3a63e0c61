package home

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/nixctl/nixctl/internal/eval"
	"github.com/nixctl/nixctl/internal/execx"
	"github.com/nixctl/nixctl/internal/fault"
	"github.com/nixctl/nixctl/internal/inventory"
	"github.com/nixctl/nixctl/internal/nix"
)

// Built is a profile's activation package.
type Built struct {
	Profile string `json:"profile"`
	Attr    string `json:"attr"`
	// Path is the store path of the generation; under --dry-run, the
	// placeholder Planned(profile).
	Path string `json:"path,omitempty"`
	// Error says why the profile was not built (its evaluation failed).
	Error string `json:"error,omitempty"`
	err   error
}

// Planned stands for the generation of profile a dry run did not build.
func Planned(profile string) string { return plannedPrefix + profile + ">" }

const plannedPrefix = "/nix/store/<generation-of-"

// isPlanned reports whether path is a Planned placeholder ('<' is in no
// store path).
func isPlanned(path string) bool {
	return strings.HasPrefix(path, plannedPrefix)
}

// plannedBuild is what a dry run answers for the build: nix build --json
// with each profile's placeholder.
func plannedBuild(profiles []string) []byte {
	results := make([]nix.BuildResult, len(profiles))
	for i, p := range profiles {
		results[i] = nix.BuildResult{Outputs: map[string]string{"out": Planned(p)}}
	}
	b, _ := json.Marshal(results)
	return b
}

// Build evaluates the activation packages of profiles in one nix process,
// then builds the derivations it found with one nix build, so nix shares
// the work between them and evaluates each profile once. A profile whose
// evaluation fails is evaluated alone for its located error (internal/eval)
// and gets Err; the others are built all the same. The error returned is
// the build's, or the first profile's that failed. Under dry-run the paths
// are placeholders.
func Build(ctx context.Context, r execx.Runner, fleet *inventory.Fleet, profiles []inventory.Profile, extra []string) ([]Built, error) {
	out := make([]Built, len(profiles))
	items := make([]eval.Item, len(profiles))
	for i, p := range profiles {
		out[i] = Built{Profile: p.Name, Attr: p.Attr}
		items[i] = eval.Profile(p.Attr)
	}
	results, err := eval.Run(ctx, r, items, eval.Options{Flake: fleet.Flake, Dir: fleet.Dir, Extra: extra,
		Skippable: "evaluating the profiles' derivations before their build"})
	var building []int
	switch {
	case errors.Is(err, execx.ErrSkipped):
		// A dry run: the build names the profiles by attribute.
		results = nil
		for i := range profiles {
			building = append(building, i)
		}
	case err != nil:
		return nil, err
	default:
		for i, res := range results {
			switch {
			case res.Missing:
				out[i].err = fault.Newf(fault.Inventory, "fix profiles[].attr in nixctl.yaml, or run 'nixctl inventory check'",
					"building %s failed: the flake has no homeConfigurations.%s", profiles[i].Name, nix.Attr(profiles[i].Attr))
			case len(res.Errors) > 0:
				out[i].err = fault.Newf(fault.Build, "fix the error, or run 'nixctl check "+profiles[i].Name+"' for every error",
					"building %s failed: %s", profiles[i].Name, res.Errors[0].String())
			default:
				building = append(building, i)
			}
			if out[i].err != nil {
				out[i].Error = out[i].err.Error()
			}
		}
	}
	if len(building) > 0 {
		if err := buildProfiles(ctx, r, fleet, profiles, results, building, out, extra); err != nil {
			return out, err
		}
	}
	for _, b := range out {
		if b.err != nil {
			return out, b.err
		}
	}
	return out, nil
}

// buildProfiles builds profiles[building] with one nix build: the
// derivations evaluated, or without them (a dry run) the flake attributes.
// nix build --json does not answer in the order of its installables, so
// each result is matched to its profile by derivation.
func buildProfiles(ctx context.Context, r execx.Runner, fleet *inventory.Fleet, profiles []inventory.Profile, results []eval.Result, building []int, out []Built, extra []string) error {
	names := make([]string, len(building))
	attrs := make([]string, len(building))
	drvs := make([]string, len(building))
	for k, i := range building {
		names[k], attrs[k] = profiles[i].Name, profiles[i].Attr
		if results != nil {
			drvs[k] = results[i].DrvPath
		}
	}
	installables := nix.ActivationInstallables(fleet.Flake, attrs...)
	if results != nil {
		if byDrv, ok := eval.DrvInstallables(ctx, r, drvs); ok {
			installables = byDrv
		}
	}
	res, err := r.Run(ctx, execx.Cmd{Argv: nix.Build(installables, extra...), Planned: plannedBuild(names)})
	if err != nil {
		return buildFailed(ctx, res, err, fleet, names)
	}
	built, err := nix.ParseBuildResults(res.Stdout)
	if err != nil {
		return err
	}
	if len(built) != len(building) {
		return fmt.Errorf("nix build returned %d results for %d profiles", len(built), len(building))
	}
	byDrv := make(map[string]string, len(built))
	for _, b := range built {
		byDrv[b.DrvPath] = b.Out()
	}
	for k, i := range building {
		// A dry run's placeholders have no derivation: their order is all
		// there is.
		out[i].Path = built[k].Out()
		if p, ok := byDrv[drvs[k]]; ok && drvs[k] != "" {
			out[i].Path = p
		}
	}
	return nil
}

// buildFailed says why nix build failed: the located evaluation error, or
// the failed builder's last log line and where its whole log is.
func buildFailed(ctx context.Context, res *execx.Result, err error, fleet *inventory.Fleet, names []string) error {
	if ctx.Err() != nil {
		return err
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
	return fault.Newf(fault.Build, hint, "building %s failed: %s", strings.Join(names, ", "), msg)
}
