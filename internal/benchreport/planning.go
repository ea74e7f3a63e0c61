package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/nixctl/nixctl/internal/execx"
)

// planningHosts is the size of the generated inventory.
const planningHosts = 1000

func init() {
	register(comparison{
		name: "planning",
		run: func(ctx context.Context, e *env) (row, error) {
			big, err := plannedFleet(e, "plan-1000", planningHosts)
			if err != nil {
				return row{}, err
			}
			small, err := plannedFleet(e, "plan-10", 10)
			if err != nil {
				return row{}, err
			}
			var rss int64
			plan := func(dir string) func() (time.Duration, error) {
				return func() (time.Duration, error) {
					d, res, err := timeCmd(ctx, e.r, execx.Cmd{Argv: []string{e.nixctl, "deploy", "--all", "--dry-run", "--yes", "--no-check"}, Dir: dir})
					if err == nil && dir == big {
						rss = max(rss, res.MaxRSS)
					}
					return d, err
				}
			}
			ours, baseline, err := sideBySide(ctx, e.runs, plan(big), plan(small))
			if err != nil {
				return row{}, err
			}
			f := float64(ours) / float64(baseline)
			return row{
				what:     fmt.Sprintf("planning: deploy --all --dry-run, %d hosts vs 10 hosts", planningHosts),
				ours:     fmt.Sprintf("%s, %d MiB", ms(ours), rss/1024),
				baseline: ms(baseline),
				ratio:    fmt.Sprintf("%.1fx the time for 100x the hosts", f),
				goal:     "under 1 s and 200 MiB for 1000 hosts",
				met:      ours < time.Second && rss < 200*1024,
			}, nil
		},
	})
}

// plannedFleet writes an inventory of n hosts with tags and health checks.
func plannedFleet(e *env, name string, n int) (string, error) {
	dir := filepath.Join(e.tmp, name)
	var b strings.Builder
	b.WriteString("defaults:\n  parallel: 10\nhosts:\n")
	for i := 0; i < n; i++ {
		addr := fmt.Sprintf("10.%d.%d.%d", i/62500, (i/250)%250, i%250+1)
		fmt.Fprintf(&b, "  - {name: host-%d, address: %s, tags: [rack%d], health: [{tcp: \"%s:22\"}, {command: \"systemctl is-system-running\"}]}\n", i, addr, i%20, addr)
	}
	if err := writeFile(filepath.Join(dir, "nixctl.yaml"), b.String()); err != nil {
		return "", err
	}
	return dir, writeFile(filepath.Join(dir, "flake.nix"), "{ outputs = { self }: { }; }\n")
}
