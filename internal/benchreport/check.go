package main

import (
	"context"
	"path/filepath"
	"time"

	"github.com/nixctl/nixctl/internal/execx"
	"github.com/nixctl/nixctl/internal/nix"
	"github.com/nixctl/nixctl/internal/testutil"
)

func init() {
	register(comparison{
		name:  "check",
		needs: []string{"nix"},
		run: func(ctx context.Context, e *env) (row, error) {
			fleet := filepath.Join(e.tmp, "demo")
			if err := testutil.CopyTree(filepath.Join(e.root, "nix", "demo"), fleet); err != nil {
				return row{}, err
			}
			hosts := []string{"nixos-mini", "nixos-node-1", "gateway"}
			profiles := []string{"gabriel@laptop", "server"}
			// The baseline is what a shell script would run: the flake check,
			// then one evaluation after another.
			plain := func() (time.Duration, error) {
				start := time.Now()
				if _, _, err := timeCmd(ctx, e.r, execx.Cmd{Argv: nix.Nix("flake", "check", fleet), Dir: fleet}); err != nil {
					return 0, err
				}
				for _, h := range hosts {
					if _, _, err := timeCmd(ctx, e.r, execx.Cmd{Argv: nix.Nix("eval", "--raw", nix.Installable(fleet, append(nix.ToplevelAttr(h), "drvPath")...)), Dir: fleet}); err != nil {
						return 0, err
					}
				}
				for _, p := range profiles {
					if _, _, err := timeCmd(ctx, e.r, execx.Cmd{Argv: nix.Nix("eval", "--raw", nix.Installable(fleet, append(nix.ActivationAttr(p), "drvPath")...)), Dir: fleet}); err != nil {
						return 0, err
					}
				}
				return time.Since(start), nil
			}
			ours, theirs, err := sideBySide(ctx, e.runs,
				func() (time.Duration, error) {
					d, _, err := timeCmd(ctx, e.r, execx.Cmd{Argv: []string{e.nixctl, "check", "--quiet"}, Dir: fleet})
					return d, err
				}, plain)
			if err != nil {
				return row{}, err
			}
			ratio, f := speed(ours, theirs)
			return row{what: "check: nixctl check (demo fleet) vs nix flake check + 5 evaluations", ours: ms(ours), baseline: ms(theirs), ratio: ratio,
				goal: "at least as fast (evaluations run in parallel; ratio ≥ 0.9x)", met: f >= 0.9}, nil
		},
	})
}
