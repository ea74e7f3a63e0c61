// Package check validates a fleet repository with real nix: nix flake check,
// then the evaluation of every selected host's toplevel and profile's
// activation package (Nix 2.8's flake check lets NixOS type errors through;
// evaluating drvPath catches them). Errors come back parsed: file, line,
// column and message.
package check

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/nixctl/nixctl/internal/execx"
	"github.com/nixctl/nixctl/internal/inventory"
	"github.com/nixctl/nixctl/internal/nix"
)

// Kinds of items a check reports.
const (
	KindFlake   = "flake"
	KindHost    = "host"
	KindProfile = "profile"
)

// Options say what to check.
type Options struct {
	Hosts    []inventory.Host
	Profiles []inventory.Profile
	// NoFlakeCheck skips nix flake check (deploy checks only its hosts).
	NoFlakeCheck bool
	NoBuild      bool
	KeepGoing    bool
	// Extra arguments for nix (the user's -- NIX_ARGS).
	Extra []string
	// Parallel evaluations at once (default 2).
	Parallel int
}

// Item is one checked thing.
type Item struct {
	Kind     string        `json:"kind"`
	Name     string        `json:"name"`
	Attr     string        `json:"attr,omitempty"`
	OK       bool          `json:"ok"`
	DrvPath  string        `json:"drvPath,omitempty"`
	Errors   []nix.Error   `json:"errors,omitempty"`
	Duration time.Duration `json:"durationNs"`
}

// Summary is the first error as one line.
func (it Item) Summary() string {
	if it.OK {
		return "ok"
	}
	if len(it.Errors) == 0 {
		return "failed"
	}
	return it.Errors[0].String()
}

// Report is every item in order: the flake check first, then hosts, then profiles.
type Report struct {
	Items []Item `json:"items"`
}

// OK reports whether every item passed.
func (r *Report) OK() bool {
	for _, it := range r.Items {
		if !it.OK {
			return false
		}
	}
	return true
}

// Failed lists the items that failed.
func (r *Report) Failed() []Item {
	var out []Item
	for _, it := range r.Items {
		if !it.OK {
			out = append(out, it)
		}
	}
	return out
}

// Events receives progress; implementations must be safe for concurrent use.
type Events interface {
	Started(kind, name string)
	Finished(it Item)
}

type noEvents struct{}

func (noEvents) Started(string, string) {}
func (noEvents) Finished(Item)          {}

// Plan lists the commands Run would execute, in order (for --dry-run).
func Plan(fleet *inventory.Fleet, o Options) []execx.Cmd {
	var cmds []execx.Cmd
	if !o.NoFlakeCheck {
		cmds = append(cmds, flakeCheckCmd(fleet, o))
	}
	for _, h := range o.Hosts {
		cmds = append(cmds, evalCmd(fleet, nix.ToplevelAttr(h.Attr), o.Extra))
	}
	for _, p := range o.Profiles {
		cmds = append(cmds, evalCmd(fleet, nix.ActivationAttr(p.Attr), o.Extra))
	}
	return cmds
}

func flakeCheckCmd(fleet *inventory.Fleet, o Options) execx.Cmd {
	argv := nix.FlakeCheck(fleet.Flake, nix.FlakeCheckOptions{NoBuild: o.NoBuild, KeepGoing: o.KeepGoing, Extra: o.Extra})
	// A flake check builds the checks: it fills the store but changes
	// nothing a user would call a change.
	return execx.Cmd{Argv: argv, Dir: fleet.Dir, ReadOnly: true}
}

func evalCmd(fleet *inventory.Fleet, path, extra []string) execx.Cmd {
	return execx.Cmd{Argv: nix.EvalDrvPath(fleet.Flake, path, extra...), Dir: fleet.Dir, ReadOnly: true}
}

// Run checks the flake and the selected hosts and profiles. It returns an
// error only when nothing could be checked (nix missing, cancelled); failures
// of items are in the report.
func Run(ctx context.Context, r execx.Runner, fleet *inventory.Fleet, o Options, ev Events) (*Report, error) {
	if ev == nil {
		ev = noEvents{}
	}
	rep := &Report{}
	if !o.NoFlakeCheck {
		ev.Started(KindFlake, "nix flake check")
		it := flakeCheck(ctx, r, fleet, o)
		ev.Finished(it)
		rep.Items = append(rep.Items, it)
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		// Inputs that cannot be fetched fail every evaluation the same way,
		// after the same network time-outs: say it once.
		if !it.OK && len(it.Errors) > 0 && nix.IsFetchError(it.Errors[0].Message) {
			rep.Items = append(rep.Items, notEvaluated(o, it.Errors[0].Message)...)
			return rep, nil
		}
	}
	type job struct {
		kind, name, attr string
		path             []string
	}
	var jobs []job
	for _, h := range o.Hosts {
		jobs = append(jobs, job{KindHost, h.Name, h.Attr, nix.ToplevelAttr(h.Attr)})
	}
	for _, p := range o.Profiles {
		jobs = append(jobs, job{KindProfile, p.Name, p.Attr, nix.ActivationAttr(p.Attr)})
	}
	items := make([]Item, len(jobs))
	par := o.Parallel
	if par < 1 {
		par = 2
	}
	sem := make(chan struct{}, par)
	var wg sync.WaitGroup
	for i, j := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			ev.Started(j.kind, j.name)
			items[i] = evaluate(ctx, r, fleet, j.kind, j.name, j.attr, j.path, o.Extra)
			ev.Finished(items[i])
		}()
	}
	wg.Wait()
	rep.Items = append(rep.Items, items...)
	return rep, ctx.Err()
}

// notEvaluated fails every host and profile with the reason they were not
// evaluated.
func notEvaluated(o Options, why string) []Item {
	var items []Item
	msg := []nix.Error{{Message: "not evaluated: the flake's inputs could not be fetched (" + why + ")"}}
	for _, h := range o.Hosts {
		items = append(items, Item{Kind: KindHost, Name: h.Name, Attr: h.Attr, Errors: msg})
	}
	for _, p := range o.Profiles {
		items = append(items, Item{Kind: KindProfile, Name: p.Name, Attr: p.Attr, Errors: msg})
	}
	return items
}

func flakeCheck(ctx context.Context, r execx.Runner, fleet *inventory.Fleet, o Options) Item {
	start := time.Now()
	res, err := r.Run(ctx, flakeCheckCmd(fleet, o))
	it := Item{Kind: KindFlake, Name: "nix flake check", OK: err == nil, Duration: time.Since(start)}
	if err != nil {
		it.Errors = errorsOf(res, err, fleet.Dir)
	}
	return it
}

func evaluate(ctx context.Context, r execx.Runner, fleet *inventory.Fleet, kind, name, attr string, path, extra []string) Item {
	start := time.Now()
	res, err := r.Run(ctx, evalCmd(fleet, path, extra))
	it := Item{Kind: kind, Name: name, Attr: attr, OK: err == nil, Duration: time.Since(start)}
	if err != nil {
		it.Errors = errorsOf(res, err, fleet.Dir)
		if res != nil && nix.IsMissingAttr(res.Stderr) {
			out := "nixosConfigurations"
			if kind == KindProfile {
				out = "homeConfigurations"
			}
			it.Errors = []nix.Error{{Message: fmt.Sprintf("the flake has no %s.%s (set attr: in nixctl.yaml, or add the output to flake.nix)", out, nix.Attr(attr))}}
		}
		return it
	}
	it.DrvPath = strings.TrimSpace(string(res.Stdout))
	return it
}

// errorsOf parses nix's errors, falling back to the process error.
func errorsOf(res *execx.Result, err error, repo string) []nix.Error {
	if res != nil {
		if errs := nix.ParseErrors(res.Stderr, repo); len(errs) > 0 {
			return errs
		}
	}
	var ee *execx.ExitError
	if errors.As(err, &ee) && ee.StderrTail != "" {
		return []nix.Error{{Message: nix.StripANSI(execx.Tail(ee.StderrTail, 1))}}
	}
	return []nix.Error{{Message: err.Error()}}
}
