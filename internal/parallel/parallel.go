// Package parallel runs a list of independent items a bounded number at a
// time: hosts for deploy, status, doctor and home switch, evaluations,
// builds of checks. It is the one place that writes the semaphore loop.
package parallel

import (
	"context"
	"sync"
)

// Each calls fn(i) for every i in [0, n), at most limit at once (at least
// one), and returns once every call has returned. Items start in order: the
// i-th waits for a free slot before the ones after it are considered.
func Each(n, limit int, fn func(i int)) {
	each(n, limit, nil, fn, nil)
}

// EachUntil is Each that stops starting items once ctx is done: each item
// not started by then is passed to skipped instead (in the caller's
// goroutine, in order), so that the caller can say why it did not run.
// Items already running are left to notice ctx themselves.
func EachUntil(ctx context.Context, n, limit int, fn func(i int), skipped func(i int)) {
	each(n, limit, ctx.Err, fn, skipped)
}

// each starts the items in order, each when a slot is free and stopped
// (when given) says nothing.
func each(n, limit int, stopped func() error, fn func(i int), skipped func(i int)) {
	slots := make(chan struct{}, max(limit, 1))
	var wg sync.WaitGroup
	for i := range n {
		slots <- struct{}{}
		if stopped != nil && stopped() != nil {
			<-slots
			if skipped != nil {
				skipped(i)
			}
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			fn(i)
		}()
	}
	wg.Wait()
}
