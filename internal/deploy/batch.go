package deploy

import (
	"fmt"
	"io"
	"slices"
	"strings"
)

// activateInBatches activates the hosts still going: the canaries first,
// then batches of Options.Batch hosts, each batch only when every host of
// the batches before it is healthy. Without canaries or a batch size it is
// one batch of every host (still Options.Parallel at a time).
func (x *executor) activateInBatches() {
	batches := x.batches()
	for i, b := range batches {
		if len(batches) > 1 {
			for _, h := range b {
				h.res.Batch = i + 1
			}
		}
		x.parallelOver(b, StageActivate, x.activate)
		if i == len(batches)-1 || x.ctx.Err() != nil {
			return
		}
		if bad := unhealthy(b); len(bad) > 0 {
			err := &BatchError{Canary: i == 0 && len(x.plan.Canary) > 0, Batch: i + 1, Batches: len(batches), Hosts: bad}
			for _, rest := range batches[i+1:] {
				for _, h := range rest {
					h.mu.Lock()
					h.stage = StageActivate
					h.mu.Unlock()
					x.finish(h, ResultNotStarted, err)
				}
			}
			return
		}
	}
}

// batches splits the hosts still going: canaries (in inventory order),
// then the others in chunks of the batch size.
func (x *executor) batches() [][]*hostRun {
	var canaries, rest []*hostRun
	for _, h := range x.active() {
		if slices.Contains(x.plan.Canary, h.plan.Host.Name) {
			canaries = append(canaries, h)
		} else {
			rest = append(rest, h)
		}
	}
	var out [][]*hostRun
	if len(canaries) > 0 {
		out = append(out, canaries)
	}
	size := x.plan.Batch.Size(len(rest))
	for len(rest) > 0 {
		n := min(size, len(rest))
		out = append(out, rest[:n])
		rest = rest[n:]
	}
	return out
}

// unhealthy lists the hosts of a batch that did not end ok, with their result.
func unhealthy(batch []*hostRun) []string {
	var bad []string
	for _, h := range batch {
		h.mu.Lock()
		if !h.res.OK() {
			bad = append(bad, h.plan.Host.Name+" "+h.res.Result)
		}
		h.mu.Unlock()
	}
	return bad
}

// BatchError is why a host was not started: an earlier batch, or a canary,
// ended with a host that is not healthy.
type BatchError struct {
	Canary  bool
	Batch   int
	Batches int
	// Hosts are "name result" of the hosts that stopped the rollout.
	Hosts []string
}

func (e *BatchError) Error() string {
	if e.Canary {
		return "not started: canary " + strings.Join(e.Hosts, ", ") + "; the other hosts wait for every canary to be healthy"
	}
	return fmt.Sprintf("not started: batch %d of %d had %s", e.Batch, e.Batches, strings.Join(e.Hosts, ", "))
}

// Hint says how to go on.
func (e *BatchError) Hint() string {
	return "fix what stopped the rollout (the host's log file has its output), then deploy again; with --diff the hosts already deployed are unchanged and skipped"
}

// printRollout adds to a dry run's header how the hosts are rolled out
// after the build: the question after the diff, canaries, batches.
func (p *Plan) printRollout(w io.Writer) {
	if p.PlanOnly {
		fmt.Fprintln(w, "# plan: stop here, after the diff: no lock, no activation")
		return
	}
	if p.Diff {
		skipped := "unchanged hosts are skipped"
		if p.Force {
			skipped = "unchanged hosts are activated too (--force)"
		}
		fmt.Fprintln(w, "# one question for the fleet after the diff; "+skipped)
	}
	if len(p.Canary) > 0 {
		fmt.Fprintf(w, "# canaries first: %s; the others only if every canary is healthy\n", strings.Join(p.Canary, ", "))
	}
	if !p.Batch.IsZero() {
		fmt.Fprintf(w, "# batches of %s (%d hosts), each only when the one before is healthy\n", p.Batch, p.Batch.Size(len(p.Hosts)-len(p.Canary)))
	}
}
