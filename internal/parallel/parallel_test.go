package parallel

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
)

func TestEachRunsEveryItemWithinTheLimit(t *testing.T) {
	t.Parallel()
	for _, limit := range []int{-1, 0, 1, 3, 100} {
		var running, most atomic.Int32
		var mu sync.Mutex
		var seen []int
		release := make(chan struct{})
		done := make(chan struct{})
		go func() {
			defer close(done)
			Each(10, limit, func(i int) {
				n := running.Add(1)
				for {
					m := most.Load()
					if n <= m || most.CompareAndSwap(m, n) {
						break
					}
				}
				<-release
				running.Add(-1)
				mu.Lock()
				seen = append(seen, i)
				mu.Unlock()
			})
		}()
		close(release)
		<-done
		slices.Sort(seen)
		if !slices.Equal(seen, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}) {
			t.Errorf("limit %d: ran %v", limit, seen)
		}
		if want := int32(max(min(limit, 10), 1)); most.Load() > want {
			t.Errorf("limit %d: %d at once, want at most %d", limit, most.Load(), want)
		}
	}
}

// The limit is reached, not only respected: with limit 3, three items run
// together (each waits until the third has started).
func TestEachRunsLimitItemsAtOnce(t *testing.T) {
	t.Parallel()
	var wg sync.WaitGroup
	wg.Add(3)
	Each(3, 3, func(int) {
		wg.Done()
		wg.Wait()
	})
}

func TestEachUntilSkipsWhatItHadNotStarted(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	var ran, skipped []int
	var mu sync.Mutex
	// One at a time: item 2 cancels, so 3 and 4 never start.
	EachUntil(ctx, 5, 1, func(i int) {
		mu.Lock()
		ran = append(ran, i)
		mu.Unlock()
		if i == 2 {
			cancel()
		}
	}, func(i int) { skipped = append(skipped, i) })
	if !slices.Equal(ran, []int{0, 1, 2}) || !slices.Equal(skipped, []int{3, 4}) {
		t.Errorf("ran %v, skipped %v", ran, skipped)
	}
}
