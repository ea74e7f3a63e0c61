package deploy

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/nixctl/nixctl/internal/execx"
	"github.com/nixctl/nixctl/internal/fault"
	"github.com/nixctl/nixctl/internal/home"
	"github.com/nixctl/nixctl/internal/hostops"
	"github.com/nixctl/nixctl/internal/nix"
)

// What a deploy would do to a host's system, as --diff and nixctl plan say.
const (
	DiffChanged   = "changed"
	DiffUnchanged = "unchanged"
	// DiffUnknown: nixctl has no closure here to compare (built on a build host).
	DiffUnknown = "unknown"
)

// HostDiff is the plan for one host: what the new system changes compared
// with the one the host runs now.
type HostDiff struct {
	Change string `json:"change"`
	// Current is the host's /run/current-system ("" when it has none);
	// New the system nixctl built for it.
	Current string `json:"currentSystem"`
	New     string `json:"newSystem"`
	// Packages is nix store diff-closures between the two, parsed.
	Packages []nix.ClosureChange `json:"packages"`
	Added    int                 `json:"added"`
	Removed  int                 `json:"removed"`
	Changed  int                 `json:"changed"`
	// Closure sizes in bytes, and their difference.
	OldClosureSize   int64 `json:"oldClosureSize"`
	NewClosureSize   int64 `json:"newClosureSize"`
	ClosureSizeDelta int64 `json:"closureSizeDelta"`
	// RebootReasons names the parts of the system that only a reboot (or,
	// for systemd, a re-exec) brings in: kernel, initrd, kernel-modules,
	// systemd.
	RebootNeeded  bool     `json:"rebootNeeded"`
	RebootReasons []string `json:"rebootReasons"`
	// Units is what nixos-rebuild dry-activate says activation would do
	// (nil when it was not run: unchanged host, or boot).
	Units *nix.UnitChanges `json:"units,omitempty"`
	// Note says why something above could not be known.
	Note string `json:"note,omitempty"`
}

// diff compares a host's current system with the one built for it. An
// unchanged host ends here unless --force; with nixctl plan every host does.
func (x *executor) diff(h *hostRun) {
	ctx, cancel := x.hostCtx(x.ctx)
	defer cancel()
	x.setStage(h, StageDiff)
	d, err := x.diffHost(ctx, h)
	if err != nil {
		x.fail(h, timeoutErr(ctx, x.plan.Timeout, err))
		return
	}
	h.mu.Lock()
	h.res.Diff = d
	h.mu.Unlock()
	switch {
	case d.Change == DiffUnchanged && (x.plan.PlanOnly || !x.plan.Force):
		x.finish(h, ResultUnchanged, nil)
	case x.plan.PlanOnly:
		x.finish(h, ResultOK, nil)
	}
}

func (x *executor) diffHost(ctx context.Context, h *hostRun) (*HostDiff, error) {
	next, err := x.newSystem(h)
	if err != nil {
		return nil, err
	}
	d := &HostDiff{Change: DiffChanged, New: next, Packages: []nix.ClosureChange{}, RebootReasons: []string{}}
	st, err := h.session.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading the host's current system: %w", err)
	}
	d.Current = st.Current
	if d.Current != "" && !nix.IsStorePath(d.Current) {
		return nil, fmt.Errorf("the host's /run/current-system points at %q, which is not a store path", d.Current)
	}
	switch {
	case d.New == "":
		d.Change = DiffUnknown
		d.Note = "built on " + h.plan.BuildHost + ": nixctl has no closure here to compare"
	case d.Current == d.New:
		d.Change = DiffUnchanged
		return d, nil
	case d.Current == "":
		d.Note = "the host runs no NixOS system yet (no /run/current-system)"
	default:
		for _, part := range hostops.RebootParts {
			if link, _ := os.Readlink(filepath.Join(d.New, part)); link != st.Parts[part] {
				d.RebootReasons = append(d.RebootReasons, part)
			}
		}
	}
	d.RebootNeeded = len(d.RebootReasons) > 0
	if d.New != "" {
		if err := x.closureDiff(ctx, h, d); err != nil {
			return nil, err
		}
	}
	if h.plan.DryActivate != nil {
		c := h.plan.withStorePath(*h.plan.DryActivate, h.res.StorePath)
		c.Stdout, c.Stderr = h.out, h.out
		res, err := x.env.Runner.Run(ctx, c)
		if err != nil {
			return nil, fault.New(fault.Failure, fmt.Errorf("nixos-rebuild dry-activate: %w", err), "the host's log file has its full output; --no-check does not skip it")
		}
		u := nix.ParseDryActivate(string(res.Stdout) + "\n" + string(res.Stderr))
		d.Units = &u
	}
	return d, nil
}

// newSystem is the store path of the system built for h ("" when it is
// built on a build host): what the build stage made of the derivation the
// check stage evaluated, never a new evaluation of a tree that may have
// changed since.
func (x *executor) newSystem(h *hostRun) (string, error) {
	if h.plan.Installable == "" {
		return "", nil
	}
	if h.res.StorePath == "" {
		return "", fmt.Errorf("the build did not say which system it made for %s", h.plan.Host.Name)
	}
	return h.res.StorePath, nil
}

// closureDiff runs nix store diff-closures between the two systems. Here
// when this store has the current system (it usually built it); else on
// the host, once the new system is there: a closure the host sends is never
// imported into this store, where it could pass for a build of ours.
func (x *executor) closureDiff(ctx context.Context, h *hostRun, d *HostDiff) error {
	var hd *home.Diff
	var err error
	if _, statErr := os.Stat(d.Current); d.Current == "" || statErr == nil {
		hd, err = home.DiffGenerations(ctx, x.env.Runner, h.plan.Host.Name, d.Current, d.New)
	} else if errors.Is(statErr, fs.ErrNotExist) {
		hd, err = x.diffOnHost(ctx, h, d.Current, d.New)
	} else {
		err = statErr
	}
	if err != nil {
		return err
	}
	d.Packages = hd.Changes
	d.Added, d.Removed, d.Changed = hd.Count()
	d.OldClosureSize, d.NewClosureSize, d.ClosureSizeDelta = hd.OldSize, hd.NewSize, hd.SizeDelta
	return nil
}

// diffOnHost copies the new system to the host (what activation does next
// anyway) and runs the diff and the size query there.
func (x *executor) diffOnHost(ctx context.Context, h *hostRun, cur, next string) (*home.Diff, error) {
	argv := nix.CopyToStore(h.plan.Route.StoreURI(), next)
	if x.plan.Cache != "" || x.plan.Substitute {
		argv = append(argv, "--substitute-on-destination")
	}
	x.logf(h, "the current system %s is not in this store: comparing on the host", cur)
	if _, err := x.env.Runner.Run(ctx, execx.Cmd{Argv: argv, Env: h.plan.SSHEnv, Dir: x.env.Fleet.Dir, Stdout: h.out, Stderr: h.out}); err != nil {
		return nil, fmt.Errorf("copying the new system to the host to compare it there: %w", err)
	}
	diff, sizes, err := h.session.ClosureDiff(ctx, cur, next)
	if err != nil {
		return nil, fmt.Errorf("comparing the systems on the host: %w", err)
	}
	hd := &home.Diff{Profile: h.plan.Host.Name, Old: cur, New: next}
	hd.Changes = nix.ParseDiffClosures(diff)
	return hd, hd.SetSizes(sizes)
}

// approve shows the plan of every host still going and asks once. A host
// that is not approved ends as not started, with the reason.
func (x *executor) approve() {
	hosts := x.active()
	if x.env.Approve == nil || len(hosts) == 0 || x.ctx.Err() != nil {
		return
	}
	var all []HostResult
	for _, h := range x.hosts {
		h.mu.Lock()
		all = append(all, h.res)
		h.mu.Unlock()
	}
	if err := x.env.Approve(all); err != nil {
		x.declined = err
		for _, h := range hosts {
			x.finish(h, ResultNotStarted, fmt.Errorf("not deployed: %w", err))
		}
	}
}
