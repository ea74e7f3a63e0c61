package deploy

import (
	"fmt"
	"io"
	"slices"

	"github.com/nixctl/nixctl/internal/execx"
	"github.com/nixctl/nixctl/internal/fault"
	"github.com/nixctl/nixctl/internal/nix"
)

// pushToCache copies every system built here to the binary cache, in one
// nix copy before any host activates: each store path leaves this machine
// once, and the hosts (nixos-rebuild --use-substitutes) fetch from the
// cache instead of from here. A failed push fails those hosts: the user
// asked for the cache, and a misconfigured one is better found now.
func (x *executor) pushToCache() {
	var hosts []*hostRun
	var logs []io.Writer
	var built []string
	for _, h := range x.active() {
		if h.plan.Installable == "" || h.res.StorePath == "" {
			continue
		}
		hosts = append(hosts, h)
		if !slices.Contains(built, h.res.StorePath) {
			built = append(built, h.res.StorePath)
		}
		if h.log != nil {
			logs = append(logs, h.log)
		}
		x.setStage(h, StageCache)
	}
	if len(hosts) == 0 {
		return
	}
	w := io.MultiWriter(append(logs, x.env.Events.Writer("nix copy"))...)
	c := execx.Cmd{Argv: nix.CopyToStore(x.plan.Cache, built...), Dir: x.env.Fleet.Dir, Stdout: w, Stderr: w}
	if _, err := x.env.Runner.Run(x.ctx, c); err != nil {
		err = fault.New(fault.Failure, fmt.Errorf("pushing the built systems to the cache %s: %w", x.plan.Cache, err),
			"check the cache URL and that this machine may write to it; without --cache (and defaults.cache) the hosts copy from here")
		for _, h := range hosts {
			x.fail(h, err)
		}
	}
}
