package execx

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
)

// DryRun prints every command that would change something and runs only the
// read-only ones (evaluations, version queries), so plans can still be made.
type DryRun struct {
	Inner Runner
	Out   io.Writer
	mu    sync.Mutex
	// skipped are the descriptions of the skippable commands said so.
	skipped map[string]bool
}

// ErrSkipped answers a Skippable command in a dry run.
var ErrSkipped = errors.New("not run in a dry run")

// NewDryRun wraps inner; planned commands are printed to out, one per line.
func NewDryRun(inner Runner, out io.Writer) *DryRun { return &DryRun{Inner: inner, Out: out} }

// LookPath asks the inner runner.
func (d *DryRun) LookPath(name string) (string, error) { return d.Inner.LookPath(name) }

// Run prints c unless it is read-only, and answers c.Planned as its output.
func (d *DryRun) Run(ctx context.Context, c Cmd) (*Result, error) {
	if c.ReadOnly && c.Skippable != "" {
		d.mu.Lock()
		defer d.mu.Unlock()
		if !d.skipped[c.Skippable] {
			if d.skipped == nil {
				d.skipped = map[string]bool{}
			}
			d.skipped[c.Skippable] = true
			fmt.Fprintf(d.Out, "# %s: %s\n", ErrSkipped, c.Skippable)
		}
		return &Result{}, ErrSkipped
	}
	if c.ReadOnly {
		return d.Inner.Run(ctx, c)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	line := c.String()
	if c.Dir != "" {
		line = "(cd " + QuoteWord(c.Dir) + " && " + line + ")"
	}
	fmt.Fprintln(d.Out, line)
	return &Result{Stdout: c.Planned}, nil
}
