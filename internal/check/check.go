// Package check validates a fleet repository with real nix: nix flake check,
// then the evaluation of every selected host's toplevel and profile's
// activation package (Nix 2.8's flake check lets NixOS type errors through;
// evaluating drvPath catches them). Errors come back parsed: file, line,
// column and message.
package check

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/nixctl/nixctl/internal/eval"
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
	// EvalJobs bounds the nix evaluations running at once (0: from the
	// cores and the memory).
	EvalJobs int
	// With are more values evaluated in the same processes as the hosts
	// and profiles, so what they share is evaluated once (deploy's
	// secrets declarations); EvaluateWith returns their results.
	With []eval.Item
	// WholeFlake evaluates through builtins.getFlake, which With's Apply
	// functions need for the flake's root (see eval.Options.WholeFlake).
	WholeFlake bool
	// Skippable: the caller can do without the results, and a dry run
	// may skip the evaluation (see eval.Options.Skippable).
	Skippable string
}

// Item is one checked thing.
type Item struct {
	Kind    string `json:"kind"`
	Name    string `json:"name"`
	Attr    string `json:"attr,omitempty"`
	OK      bool   `json:"ok"`
	DrvPath string `json:"drvPath,omitempty"`
	// OutPath is what building DrvPath gives (not shown by check).
	OutPath  string        `json:"-"`
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

// Plan lists the commands Run would execute (for --dry-run): the flake
// check, and beside it the evaluations of every host and profile.
func Plan(fleet *inventory.Fleet, o Options) []execx.Cmd {
	var cmds []execx.Cmd
	if !o.NoFlakeCheck {
		cmds = append(cmds, flakeCheckCmd(fleet, o))
	}
	items, _ := evalItems(o)
	return append(cmds, eval.Plan(items, evalOptions(fleet, o, nil))...)
}

func flakeCheckCmd(fleet *inventory.Fleet, o Options) execx.Cmd {
	// The evaluation beside it, if any, is the one that writes flake.lock.
	readLock := len(o.Hosts)+len(o.Profiles) > 0
	argv := nix.FlakeCheck(fleet.Flake, nix.FlakeCheckOptions{NoBuild: o.NoBuild, KeepGoing: o.KeepGoing, ReadLock: readLock, Extra: o.Extra})
	// A flake check builds the checks: it fills the store but changes
	// nothing a user would call a change.
	return execx.Cmd{Argv: argv, Dir: fleet.Dir, ReadOnly: true}
}

// evalItems lists what to evaluate, hosts first, with the Item each
// becomes in the report.
func evalItems(o Options) ([]eval.Item, []Item) {
	var items []eval.Item
	var report []Item
	for _, h := range o.Hosts {
		items = append(items, eval.Host(h.Attr))
		report = append(report, Item{Kind: KindHost, Name: h.Name, Attr: h.Attr})
	}
	for _, p := range o.Profiles {
		items = append(items, eval.Profile(p.Attr))
		report = append(report, Item{Kind: KindProfile, Name: p.Name, Attr: p.Attr})
	}
	return items, report
}

func evalOptions(fleet *inventory.Fleet, o Options, ev eval.Events) eval.Options {
	return eval.Options{Flake: fleet.Flake, Dir: fleet.Dir, Extra: o.Extra, Jobs: o.EvalJobs, Events: ev, WholeFlake: o.WholeFlake, Skippable: o.Skippable}
}

// Run checks the flake and the selected hosts and profiles: nix flake check
// and one evaluation of every item run side by side. It returns an error
// only when nothing could be checked (nix missing, cancelled); failures of
// items are in the report.
func Run(ctx context.Context, r execx.Runner, fleet *inventory.Fleet, o Options, ev Events) (*Report, error) {
	if ev == nil {
		ev = noEvents{}
	}
	rep := &Report{}
	var flake Item
	var wg sync.WaitGroup
	// A flake with no flake.lock yet is checked after the evaluation has
	// written it (see nix.LockMissing); otherwise beside it.
	after := len(o.Hosts)+len(o.Profiles) > 0 && nix.LockMissing(fleet.Flake, fleet.Dir)
	if !o.NoFlakeCheck && !after {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ev.Started(KindFlake, "nix flake check")
			flake = flakeCheck(ctx, r, fleet, o)
			ev.Finished(flake)
		}()
	}
	items, err := Evaluate(ctx, r, fleet, o, ev)
	if !o.NoFlakeCheck && after {
		ev.Started(KindFlake, "nix flake check")
		flake = flakeCheck(ctx, r, fleet, o)
		ev.Finished(flake)
	}
	wg.Wait()
	if !o.NoFlakeCheck {
		rep.Items = append(rep.Items, flake)
		// Inputs that cannot be fetched fail every evaluation the same way,
		// after the same network time-outs: say it once.
		if !flake.OK && len(flake.Errors) > 0 && nix.IsFetchError(flake.Errors[0].Message) {
			rep.Items = append(rep.Items, notEvaluated(o, flake.Errors[0].Message)...)
			return rep, ctx.Err()
		}
	}
	rep.Items = append(rep.Items, items...)
	if err == nil {
		err = ctx.Err()
	}
	return rep, err
}

// Evaluate evaluates the selected hosts and profiles (without nix flake
// check) and returns one Item each, hosts first.
func Evaluate(ctx context.Context, r execx.Runner, fleet *inventory.Fleet, o Options, ev Events) ([]Item, error) {
	items, _, err := EvaluateWith(ctx, r, fleet, o, ev)
	return items, err
}

// EvaluateWith is Evaluate, and returns the results of o.With as well, in
// their order. Through builtins.getFlake, a flake.lock that needs changes
// is updated first (builtins.getFlake never writes it, nix eval of the
// flake would have): nix flake lock, then the evaluation again.
func EvaluateWith(ctx context.Context, r execx.Runner, fleet *inventory.Fleet, o Options, ev Events) ([]Item, []eval.Result, error) {
	if ev == nil {
		ev = noEvents{}
	}
	items, report := evalItems(o)
	items = append(items, o.With...)
	evo := evalOptions(fleet, o, itemEvents{ev, report})
	results, err := eval.Run(ctx, r, items, evo)
	if err == nil && o.WholeFlake && lockStale(results) {
		lock := execx.Cmd{Argv: append(nix.Nix("flake", "lock", fleet.Flake), o.Extra...), Dir: fleet.Dir}
		if _, lerr := r.Run(ctx, lock); lerr == nil {
			results, err = eval.Run(ctx, r, items, evo)
		}
	}
	if err != nil {
		return nil, nil, err
	}
	for i := range report {
		report[i] = toItem(report[i], results[i])
	}
	return report, results[len(report):], nil
}

func lockStale(results []eval.Result) bool {
	for _, r := range results {
		if len(r.Errors) > 0 && nix.IsLockFileStale([]byte(r.Errors[0].Message)) {
			return true
		}
	}
	return false
}

// itemEvents relays eval's progress as check's.
type itemEvents struct {
	ev     Events
	report []Item
}

func (e itemEvents) Started(i int) {
	if i < len(e.report) {
		e.ev.Started(e.report[i].Kind, e.report[i].Name)
	}
}

func (e itemEvents) Finished(i int, r eval.Result) {
	if i < len(e.report) {
		e.ev.Finished(toItem(e.report[i], r))
	}
}

func toItem(it Item, r eval.Result) Item {
	it.OK, it.DrvPath, it.OutPath, it.Errors, it.Duration = r.OK(), r.DrvPath, r.OutPath, r.Errors, r.Duration
	if r.Missing {
		out := eval.OutputNixOS
		if it.Kind == KindProfile {
			out = eval.OutputHome
		}
		it.Errors = []nix.Error{{Message: fmt.Sprintf("the flake has no %s.%s (set attr: in nixctl.yaml, or add the output to flake.nix)", out, nix.Attr(it.Attr))}}
	}
	return it
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
		it.Errors = eval.ErrorsOf(res, err, fleet.Dir)
	}
	return it
}
