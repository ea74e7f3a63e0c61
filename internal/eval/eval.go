// Package eval evaluates many values of a flake (hosts' toplevels,
// profiles' activation packages, or any attribute below them) in as few nix
// processes as it can: one per output and chunk, so what they share
// (nixpkgs) is evaluated once. An item whose evaluation fails is evaluated
// alone afterwards, with the very command a single evaluation would use, so
// its error keeps its file, line and column; the other items keep their
// results and are never evaluated twice.
package eval

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nixctl/nixctl/internal/execx"
	"github.com/nixctl/nixctl/internal/nix"
	"github.com/nixctl/nixctl/internal/parallel"
)

// Outputs of a flake that hold hosts and profiles.
const (
	OutputNixOS = "nixosConfigurations"
	OutputHome  = "homeConfigurations"
)

// Item is one value to evaluate: Output.${Attr}, then Path.
type Item struct {
	Output string
	Attr   string
	Path   []string
	// Value asks for the value as JSON; otherwise the item is a derivation
	// and its drvPath and outPath are returned.
	Value bool
	// Apply, when set, is a Nix function of the flake's root directory and
	// of the item's value (root: v: …); its result, as JSON, is the item's
	// Value. The root is a string with Options.WholeFlake, null otherwise.
	Apply string
}

func (it Item) nixItem() nix.EvalItem {
	return nix.EvalItem{Output: it.Output, Attr: it.Attr, Path: it.Path, Apply: it.Apply}
}

// json says whether the item's result is a JSON value, not a derivation.
func (it Item) json() bool { return it.Value || it.Apply != "" }

// Host is the toplevel of nixosConfigurations.${attr}.
func Host(attr string) Item {
	return Item{Output: OutputNixOS, Attr: attr, Path: []string{"config", "system", "build", "toplevel"}}
}

// Profile is the activation package of homeConfigurations.${attr}.
func Profile(attr string) Item {
	return Item{Output: OutputHome, Attr: attr, Path: []string{"activationPackage"}}
}

// attrPath is the installable's attribute path of the item, quoted.
func (it Item) attrPath() []string {
	return append([]string{it.Output, nix.Attr(it.Attr)}, it.Path...)
}

// Result is what one item evaluated to.
type Result struct {
	DrvPath string
	OutPath string
	Value   json.RawMessage
	// Missing: the flake has no Output.${Attr}.
	Missing bool
	// Errors are nix's, located, when the evaluation failed.
	Errors   []nix.Error
	Duration time.Duration
}

// OK reports whether the item evaluated.
func (r Result) OK() bool { return !r.Missing && len(r.Errors) == 0 }

// Events receives progress by item index; it must be safe for concurrent use.
type Events interface {
	Started(i int)
	Finished(i int, r Result)
}

// Options say where and how.
type Options struct {
	Flake string
	// Dir is the repository: nix runs there and error paths are made
	// relative to it.
	Dir string
	// Extra arguments for every nix invocation (the user's -- NIX_ARGS).
	Extra []string
	// Jobs bounds the nix processes running at once (< 1: DefaultJobs).
	Jobs int
	// Skippable marks every process (execx.Cmd.Skippable): a caller that
	// can do without the results lets a dry run skip the evaluation, and
	// Run then stops and answers execx.ErrSkipped.
	Skippable string
	// ChunkSize bounds the items one process evaluates (< 1:
	// DefaultChunkSize): nix keeps what it evaluated until it exits, so a
	// chunk bounds its memory.
	ChunkSize int
	// WholeFlake evaluates through builtins.getFlake: every output in one
	// process, and Apply functions see the flake's root. getFlake needs
	// --impure for a local flake, so a configuration that reads the
	// environment evaluates here: right for reading what configurations
	// declare (secrets check), not for what gets built.
	WholeFlake bool
	Events     Events
}

// DefaultChunkSize is the most items one nix process evaluates by default.
const DefaultChunkSize = 100

func (o Options) jobs() int {
	if o.Jobs > 0 {
		return o.Jobs
	}
	return DefaultJobs()
}

func (o Options) chunkSize() int {
	if o.ChunkSize > 0 {
		return o.ChunkSize
	}
	return DefaultChunkSize
}

// task is one nix process: a chunk of items of one output ("": of any
// output), or one item alone.
type task struct {
	output string
	idx    []int
	alone  bool
	// readLock: another process of the same round may write flake.lock,
	// so this one must not (see lockReaders).
	readLock bool
}

// lockReaders leaves the first task of a round free to write flake.lock and
// makes the others pass --no-write-lock-file. A flake whose lock is missing
// or stale makes every nix process that locks it write the file and, in a
// git repository, run git add --intent-to-add on it: two at once collide on
// .git/index.lock ("program 'git' failed with exit code 128"). Rounds run
// one after the other, so one writer per round is one writer at a time.
func lockReaders(tasks []task) []task {
	for k := range tasks {
		tasks[k].readLock = k > 0
	}
	return tasks
}

// Plan lists the processes the first round would start (for --dry-run).
func Plan(items []Item, o Options) []execx.Cmd {
	var cmds []execx.Cmd
	for _, t := range lockReaders(chunks(items, o, outputsTogether(o))) {
		cmds = append(cmds, chunkCmd(items, t, o))
	}
	return cmds
}

// outputsTogether says whether to try evaluating items of several outputs
// in one process over 'flake#""'. In a flake with packages.<system>, nix
// resolves that name to the package set: the expression then finds
// itself elsewhere and each output gets its own process, one process
// later. A flake.nix that never says "packages" most likely has no such
// set; one that does likely has, so skip the attempt. Either way the
// expression checks what it was given: this chooses the strategy, never
// the result.
func outputsTogether(o Options) bool {
	b, err := os.ReadFile(filepath.Join(o.Dir, "flake.nix"))
	return err != nil || !bytes.Contains(b, []byte("ackages"))
}

// chunks cuts items into chunks of at most ChunkSize items. together puts
// items of every output in the same chunks (with WholeFlake they always
// are); otherwise chunks are per output, in order of first appearance.
func chunks(items []Item, o Options, together bool) []task {
	size := o.chunkSize()
	var outputs []string
	byOutput := map[string][]int{}
	for i, it := range items {
		out := it.Output
		if together || o.WholeFlake {
			out = ""
		}
		if _, ok := byOutput[out]; !ok {
			outputs = append(outputs, out)
		}
		byOutput[out] = append(byOutput[out], i)
	}
	if len(outputs) == 1 && outputs[0] == "" && !o.WholeFlake && len(items) > 0 {
		// Items of a single output need not name the outputs.
		if single := items[0].Output; allIn(items, single) {
			outputs[0] = single
			byOutput[single] = byOutput[""]
		}
	}
	var tasks []task
	for _, out := range outputs {
		idx := byOutput[out]
		for len(idx) > 0 {
			n := min(size, len(idx))
			tasks = append(tasks, task{output: out, idx: idx[:n:n]})
			idx = idx[n:]
		}
	}
	return tasks
}

func allIn(items []Item, output string) bool {
	for _, it := range items {
		if it.Output != output {
			return false
		}
	}
	return true
}

// notProvided reports nix's error for an installable it found nothing at.
func notProvided(errs []nix.Error) bool {
	return len(errs) > 0 && strings.Contains(errs[0].Message, "does not provide attribute")
}

// outputsOf lists the outputs of items in the order they first appear, as
// the expression numbers them.
func (e *evaluator) outputsOf(idx []int) []string {
	var outs []string
	for _, i := range idx {
		if !slices.Contains(outs, e.items[i].Output) {
			outs = append(outs, e.items[i].Output)
		}
	}
	return outs
}

// split is the per-output chunks of a chunk of several outputs, for when
// the outputs cannot be named together.
func (e *evaluator) split(idx []int) []task {
	sub := make([]Item, len(idx))
	for j, i := range idx {
		sub[j] = e.items[i]
	}
	tasks := chunks(sub, e.o, false)
	for k := range tasks {
		for j, local := range tasks[k].idx {
			tasks[k].idx[j] = idx[local]
		}
	}
	return tasks
}

func chunkCmd(items []Item, t task, o Options) execx.Cmd {
	ev := make([]nix.EvalItem, len(t.idx))
	for j, i := range t.idx {
		ev[j] = items[i].nixItem()
	}
	var argv []string
	switch {
	case o.WholeFlake:
		argv = nix.EvalManyFlake(o.Flake, ev, o.Extra...)
	case t.output == "":
		argv = nix.EvalManyOutputs(o.Flake, ev, o.Extra...)
	default:
		argv = nix.EvalMany(o.Flake, t.output, ev, o.Extra...)
	}
	if t.readLock && !o.WholeFlake {
		argv = append(argv, nix.NoWriteLockFile)
	}
	return execx.Cmd{Argv: argv, Dir: o.Dir, ReadOnly: true, Skippable: o.Skippable}
}

// aloneCmd is the command that evaluates one item by itself, as nixctl
// always did: its errors are the reference.
func aloneCmd(it Item, o Options) execx.Cmd {
	if o.WholeFlake {
		return execx.Cmd{Argv: nix.EvalOneFlake(o.Flake, it.nixItem(), o.Extra...), Dir: o.Dir, ReadOnly: true}
	}
	if it.json() {
		argv := nix.Nix("eval", "--json", nix.Installable(o.Flake, it.attrPath()...), "--log-format", "internal-json", "--show-trace")
		if it.Apply != "" {
			argv = append(argv, "--apply", "("+it.Apply+") null")
		}
		return execx.Cmd{Argv: append(argv, o.Extra...), Dir: o.Dir, ReadOnly: true}
	}
	return execx.Cmd{Argv: nix.EvalDrvPath(o.Flake, it.attrPath(), o.Extra...), Dir: o.Dir, ReadOnly: true}
}

// evaluator is one Run.
type evaluator struct {
	r       execx.Runner
	items   []Item
	o       Options
	ev      Events
	mu      sync.Mutex
	results []Result
	started []bool
	// skipped: a dry run skipped a process (Options.Skippable).
	skipped bool
}

func (e *evaluator) skip() {
	e.mu.Lock()
	e.skipped = true
	e.mu.Unlock()
}

func (e *evaluator) wasSkipped() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.skipped
}

type noEvents struct{}

func (noEvents) Started(int)          {}
func (noEvents) Finished(int, Result) {}

// Run evaluates every item and returns their results in order. It returns
// an error only when the run was cancelled; failures are in the results.
func Run(ctx context.Context, r execx.Runner, items []Item, o Options) ([]Result, error) {
	e := &evaluator{r: r, items: items, o: o, ev: o.Events, results: make([]Result, len(items)), started: make([]bool, len(items))}
	if e.ev == nil {
		e.ev = noEvents{}
	}
	tasks := lockReaders(chunks(items, o, outputsTogether(o)))
	var held []task
	if len(tasks) > 1 && !o.WholeFlake && nix.LockMissing(o.Flake, o.Dir) {
		// The first process writes flake.lock before the others read it.
		tasks, held = tasks[:1], tasks[1:]
	}
	for len(tasks) > 0 && ctx.Err() == nil {
		var mu sync.Mutex
		var next []task
		parallel.Each(len(tasks), o.jobs(), func(k int) {
			more := e.run(ctx, tasks[k])
			mu.Lock()
			next = append(next, more...)
			mu.Unlock()
		})
		tasks, held = append(held, lockReaders(next)...), nil
		if e.wasSkipped() {
			return e.results, execx.ErrSkipped
		}
	}
	return e.results, ctx.Err()
}

func (e *evaluator) run(ctx context.Context, t task) []task {
	if t.alone {
		e.runAlone(ctx, t.idx[0], t.readLock)
		return nil
	}
	return e.runChunk(ctx, t)
}

func (e *evaluator) start(i int) {
	e.mu.Lock()
	first := !e.started[i]
	e.started[i] = true
	e.mu.Unlock()
	if first {
		e.ev.Started(i)
	}
}

func (e *evaluator) finish(i int, r Result) {
	e.mu.Lock()
	e.results[i] = r
	e.mu.Unlock()
	e.ev.Finished(i, r)
}

// chunkState follows one chunk's process through its traces.
type chunkState struct {
	t       task
	e       *evaluator
	begun   map[int]time.Time
	ended   map[int]bool
	current int // local index being evaluated, -1 between items
	buf     []byte
	// elsewhere: the process was not given the outputs (EvalElsewhere).
	elsewhere bool
	// output is the last output the process announced forcing (-1: none).
	output int
}

// Write receives nix's stderr live, so progress is reported as items start
// and finish.
func (c *chunkState) Write(p []byte) (int, error) {
	c.buf = append(c.buf, p...)
	for {
		i := bytes.IndexByte(c.buf, '\n')
		if i < 0 {
			return len(p), nil
		}
		line := c.buf[:i]
		c.buf = c.buf[i+1:]
		if ev, ok := nix.ParseEvalLine(line); ok && ev.Index < len(c.t.idx) {
			c.event(ev)
		}
	}
}

func (c *chunkState) event(ev nix.EvalEvent) {
	switch ev.Status {
	case nix.EvalElsewhere:
		c.elsewhere = true
		return
	case nix.EvalOutput:
		c.output = max(c.output, ev.Index)
		return
	}
	if c.ended[ev.Index] {
		return
	}
	if ev.Status == nix.EvalStarted {
		c.begun[ev.Index] = time.Now()
		c.current = ev.Index
		c.e.start(c.t.idx[ev.Index])
		return
	}
	c.ended[ev.Index] = true
	c.current = -1
	i := c.t.idx[ev.Index]
	var d time.Duration
	if b, ok := c.begun[ev.Index]; ok {
		d = time.Since(b)
	}
	switch ev.Status {
	case nix.EvalDone:
		c.e.finish(i, Result{DrvPath: ev.DrvPath, OutPath: ev.OutPath, Value: ev.Value, Duration: d})
	case nix.EvalMissing:
		c.e.finish(i, Result{Missing: true, Duration: d})
	case nix.EvalFailed:
		// builtins.tryEval caught it (a throw): the located error comes
		// from the item's own evaluation, queued by the caller.
	}
}

// runChunk evaluates a chunk and returns the tasks left: each failed item
// alone, and the items the process never reached when an error it could
// not catch ended it.
func (e *evaluator) runChunk(ctx context.Context, t task) []task {
	st := &chunkState{t: t, e: e, begun: map[int]time.Time{}, ended: map[int]bool{}, current: -1, output: -1}
	c := chunkCmd(e.items, t, e.o)
	c.Stderr = st
	res, err := e.r.Run(ctx, c)
	if ctx.Err() != nil {
		return nil
	}
	if errors.Is(err, execx.ErrSkipped) {
		e.skip()
		return nil
	}
	if err == nil {
		evs, perr := nix.ParseEvalOutput(res.Stdout)
		if perr != nil {
			err = perr
		} else {
			per := res.Duration / time.Duration(max(len(evs), 1))
			for _, ev := range evs {
				if ev.Index < len(t.idx) && !st.ended[ev.Index] {
					st.begun[ev.Index] = time.Now().Add(-per)
					st.e.start(t.idx[ev.Index])
					st.event(ev)
				}
			}
		}
	}
	if st.elsewhere {
		return e.split(t.idx)
	}
	var next []task
	var unstarted []int
	for j, i := range t.idx {
		switch {
		case st.ended[j] && e.resultSet(i):
		case st.ended[j], j == st.current:
			// Failed under tryEval, or the item the process died in.
			next = append(next, task{output: t.output, idx: []int{i}, alone: true})
		default:
			unstarted = append(unstarted, i)
		}
	}
	if len(unstarted) == 0 {
		return next
	}
	if len(st.begun) == 0 && st.output >= 0 {
		// The process ended forcing an output, before any item: that
		// output's items fail with its error, as they would evaluated on
		// their own; the other outputs' items go on without it.
		failed := e.outputsOf(t.idx)[st.output]
		var others []int
		for _, i := range unstarted {
			if e.items[i].Output != failed {
				others = append(others, i)
				continue
			}
			if err == nil {
				err = errors.New("nix printed no result")
			}
			e.start(i)
			e.finish(i, Result{Errors: ErrorsOf(res, err, e.o.Dir)})
		}
		return append(next, e.split(others)...)
	}
	if len(st.begun) == 0 {
		// Nothing started: the output itself, the flake or its inputs
		// failed, the same for every item. Say it once per item without
		// starting a process for each.
		if err == nil {
			err = errors.New("nix printed no result")
		}
		errs := ErrorsOf(res, err, e.o.Dir)
		if t.output == "" && !e.o.WholeFlake && notProvided(errs) {
			// This nix does not read 'flake#""' as the outputs (Lix
			// reads an attribute named ""): name each output instead.
			return append(next, e.split(unstarted)...)
		}
		for _, i := range unstarted {
			e.start(i)
			e.finish(i, Result{Errors: errs})
		}
		return next
	}
	return append(next, task{output: t.output, idx: unstarted})
}

func (e *evaluator) resultSet(i int) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	r := e.results[i]
	return r.DrvPath != "" || r.Value != nil || r.Missing
}

// runAlone evaluates one item with the command nixctl used before it
// evaluated items together, for its located error.
func (e *evaluator) runAlone(ctx context.Context, i int, readLock bool) {
	it := e.items[i]
	e.start(i)
	c := aloneCmd(it, e.o)
	c.Skippable = e.o.Skippable
	if readLock && !e.o.WholeFlake {
		c.Argv = append(c.Argv, nix.NoWriteLockFile)
	}
	res, err := e.r.Run(ctx, c)
	if errors.Is(err, execx.ErrSkipped) {
		e.skip()
		return
	}
	if ctx.Err() != nil {
		return
	}
	var d time.Duration
	if res != nil {
		d = res.Duration
	}
	// Not Missing, whatever the error says: the chunk found the attribute,
	// so an "attribute missing" error is the configuration's own.
	switch {
	case err != nil:
		e.finish(i, Result{Errors: ErrorsOf(res, err, e.o.Dir), Duration: d})
	case it.json():
		e.finish(i, Result{Value: json.RawMessage(bytes.TrimSpace(res.Stdout)), Duration: d})
	case e.o.WholeFlake:
		var drv string
		if jerr := json.Unmarshal(res.Stdout, &drv); jerr != nil {
			e.finish(i, Result{Errors: []nix.Error{{Message: "reading nix eval's output: " + jerr.Error()}}, Duration: d})
			return
		}
		e.finish(i, Result{DrvPath: drv, Duration: d})
	default:
		// It failed among others but not alone (the combined evaluation
		// ran out of stack, say): its drvPath is good; the outPath would
		// need another evaluation and is left unknown.
		e.finish(i, Result{DrvPath: strings.TrimSpace(string(res.Stdout)), Duration: d})
	}
}

// errorsOf parses nix's errors, falling back to the process error.
func ErrorsOf(res *execx.Result, err error, repo string) []nix.Error {
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

// String names an item as an installable would.
func (it Item) String() string { return strings.Join(it.attrPath(), ".") }
