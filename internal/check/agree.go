package check

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/nixctl/nixctl/internal/execx"
	"github.com/nixctl/nixctl/internal/inventory"
	"github.com/nixctl/nixctl/internal/nix"
)

// Agreement compares the inventory with the flake's outputs.
type Agreement struct {
	// Missing are inventory entries whose attribute the flake lacks (errors).
	Missing []Mismatch `json:"missing"`
	// Unlisted are flake outputs no inventory entry points at (informational).
	Unlisted []Mismatch `json:"unlisted"`
}

// Mismatch names one side of a disagreement.
type Mismatch struct {
	Kind string `json:"kind"`
	Name string `json:"name,omitempty"`
	Attr string `json:"attr"`
	Line int    `json:"line,omitempty"`
}

func (m Mismatch) String() string {
	out := "nixosConfigurations"
	if m.Kind == KindProfile {
		out = "homeConfigurations"
	}
	if m.Name == "" {
		return fmt.Sprintf("%s.%s", out, nix.Attr(m.Attr))
	}
	return fmt.Sprintf("%s %q: the flake has no %s.%s", m.Kind, m.Name, out, nix.Attr(m.Attr))
}

// Agree evaluates the names of nixosConfigurations and homeConfigurations and
// compares them with the inventory.
func Agree(ctx context.Context, r execx.Runner, fleet *inventory.Fleet) (*Agreement, error) {
	hostAttrs, err := OutputNames(ctx, r, fleet, "nixosConfigurations")
	if err != nil {
		return nil, err
	}
	profAttrs, err := OutputNames(ctx, r, fleet, "homeConfigurations")
	if err != nil {
		return nil, err
	}
	a := &Agreement{Missing: []Mismatch{}, Unlisted: []Mismatch{}}
	used := map[string]bool{}
	for _, h := range fleet.Hosts {
		used["h:"+h.Attr] = true
		if !slices.Contains(hostAttrs, h.Attr) {
			a.Missing = append(a.Missing, Mismatch{KindHost, h.Name, h.Attr, h.Line})
		}
	}
	for _, p := range fleet.Profiles {
		used["p:"+p.Attr] = true
		if !slices.Contains(profAttrs, p.Attr) {
			a.Missing = append(a.Missing, Mismatch{KindProfile, p.Name, p.Attr, p.Line})
		}
	}
	for _, n := range hostAttrs {
		if !used["h:"+n] {
			a.Unlisted = append(a.Unlisted, Mismatch{Kind: KindHost, Attr: n})
		}
	}
	for _, n := range profAttrs {
		if !used["p:"+n] {
			a.Unlisted = append(a.Unlisted, Mismatch{Kind: KindProfile, Attr: n})
		}
	}
	return a, nil
}

// OutputNames lists the attribute names of one flake output; a missing
// output is an empty list.
func OutputNames(ctx context.Context, r execx.Runner, fleet *inventory.Fleet, output string) ([]string, error) {
	res, err := r.Run(ctx, execx.Cmd{Argv: nix.EvalAttrNames(fleet.Flake, output), Dir: fleet.Dir, ReadOnly: true})
	if err != nil {
		if res != nil && nix.IsMissingAttr(res.Stderr) {
			return []string{}, nil
		}
		if res != nil {
			if errs := nix.ParseErrors(res.Stderr, fleet.Dir); len(errs) > 0 {
				return nil, &EvalError{What: output, Err: errs[0]}
			}
		}
		return nil, fmt.Errorf("listing %s: %w", output, err)
	}
	var names []string
	if err := json.Unmarshal(res.Stdout, &names); err != nil {
		return nil, fmt.Errorf("listing %s: nix printed %q: %w", output, execx.Tail(string(res.Stdout), 1), err)
	}
	return names, nil
}

// EvalError is an evaluation failure of a whole output.
type EvalError struct {
	What string
	Err  nix.Error
}

func (e *EvalError) Error() string { return fmt.Sprintf("evaluating %s: %s", e.What, e.Err) }

// Hint points at nixctl check for the details, or at the network.
func (e *EvalError) Hint() string {
	if nix.IsFetchError(e.Err.Message) {
		return "the flake's inputs could not be fetched: run 'nix flake lock' with network access, or pass --no-eval to validate the file alone"
	}
	return "'nixctl check' shows every evaluation error with its location"
}
