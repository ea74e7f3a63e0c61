package main

import (
	"context"
	"time"

	"github.com/nixctl/nixctl/internal/execx"
)

func init() {
	register(comparison{
		name:  "start-up",
		needs: []string{"sops"},
		run: func(ctx context.Context, e *env) (row, error) {
			ours, theirs, err := sideBySide(ctx, e.runs*4,
				func() (time.Duration, error) {
					d, _, err := timeCmd(ctx, e.r, execx.Cmd{Argv: []string{e.nixctl, "version"}})
					return d, err
				},
				func() (time.Duration, error) {
					d, _, err := timeCmd(ctx, e.r, execx.Cmd{Argv: []string{"sops", "--version", "--disable-version-check"}})
					return d, err
				})
			if err != nil {
				return row{}, err
			}
			ratio, f := speed(ours, theirs)
			return row{what: "start-up: nixctl version vs sops --version", ours: ms(ours), baseline: ms(theirs), ratio: ratio,
				goal: "no slower than sops (ratio ≥ 0.8x)", met: f >= 0.8}, nil
		},
	})
}
