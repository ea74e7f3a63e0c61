package home

import (
	"context"
	"fmt"

	"github.com/nixctl/nixctl/internal/execx"
	"github.com/nixctl/nixctl/internal/nix"
)

// Diff is what switching a profile to a new generation changes.
type Diff struct {
	Profile string `json:"profile"`
	// Old is the current generation ("" when there is none yet); New the
	// generation that would replace it.
	Old     string              `json:"old"`
	New     string              `json:"new"`
	Changes []nix.ClosureChange `json:"changes"`
	// Closure sizes in bytes, and their difference.
	OldSize   int64 `json:"oldClosureSize"`
	NewSize   int64 `json:"newClosureSize"`
	SizeDelta int64 `json:"closureSizeDelta"`
}

// Count returns how many packages are added, removed and changed.
func (d *Diff) Count() (added, removed, changed int) {
	for _, c := range d.Changes {
		switch c.Kind {
		case nix.ChangeAdded:
			added++
		case nix.ChangeRemoved:
			removed++
		default:
			changed++
		}
	}
	return
}

// DiffGenerations compares two generations with nix store diff-closures and
// their closure sizes with nix path-info. old may be "" (no generation yet).
// A new generation that is not a store path (a dry run's placeholder) has
// no diff: nil.
func DiffGenerations(ctx context.Context, r execx.Runner, profile, oldPath, newPath string) (*Diff, error) {
	if isPlanned(newPath) {
		return nil, nil // nothing was built to compare
	}
	d := &Diff{Profile: profile, Old: oldPath, New: newPath, Changes: []nix.ClosureChange{}}
	paths := []string{newPath}
	if oldPath != "" {
		res, err := r.Run(ctx, execx.Cmd{Argv: nix.DiffClosures(oldPath, newPath), ReadOnly: true})
		if err != nil {
			return nil, fmt.Errorf("comparing generations of %s: %w", profile, err)
		}
		d.Changes = nix.ParseDiffClosures(string(res.Stdout))
		paths = append(paths, oldPath)
	}
	res, err := r.Run(ctx, execx.Cmd{Argv: nix.PathInfoClosureSize(paths...), ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("measuring closures of %s: %w", profile, err)
	}
	return d, d.SetSizes(res.Stdout)
}

// SetSizes reads both closure sizes from `nix path-info --json
// --closure-size OLD NEW` output.
func (d *Diff) SetSizes(pathInfo []byte) error {
	infos, err := nix.ParsePathInfo(pathInfo)
	if err != nil {
		return err
	}
	for _, in := range infos {
		switch in.Path {
		case d.New:
			d.NewSize = in.ClosureSize
		case d.Old:
			d.OldSize = in.ClosureSize
		}
	}
	d.SizeDelta = d.NewSize - d.OldSize
	return nil
}
