package deploy

import (
	"context"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/nixctl/nixctl/internal/execx"
	"github.com/nixctl/nixctl/internal/fault"
	"github.com/nixctl/nixctl/internal/inventory"
)

const fiveHosts = `
defaults: {parallel: 4}
hosts:
  - {name: a, address: 10.0.0.1}
  - {name: b, address: 10.0.0.2}
  - {name: c, address: 10.0.0.3, health: [{command: "systemctl is-active app", timeout: 20ms}]}
  - {name: d, address: 10.0.0.4}
  - {name: e, address: 10.0.0.5}
`

// activations lists the hosts nixos-rebuild switch (not --rollback) ran
// for, in the order they started.
func activations(rec *execx.Recorder) []string {
	var out []string
	calls := rec.Calls()
	slices.SortStableFunc(calls, func(x, y execx.Call) int { return x.Start.Compare(y.Start) })
	for _, c := range calls {
		if len(c.Cmd.Argv) > 2 && c.Cmd.Argv[0] == "nixos-rebuild" && c.Cmd.Argv[2] == "--flake" {
			out = append(out, hostOf(c.Cmd.Argv))
		}
	}
	return out
}

// TestBatchStopsAtTheFirstUnhealthyBatch: batches of 2 (a b, c d, e); c
// fails its health check and is rolled back, so e is never started and says
// why, while d (in c's batch) finishes.
func TestBatchStopsAtTheFirstUnhealthyBatch(t *testing.T) {
	t.Parallel()
	r := newRun(t, fiveHosts)
	r.opts.Batch = inventory.Batch{N: 2}
	var rolledBack atomic.Bool
	r.host("c").healthFails = func() bool { return !rolledBack.Load() }
	buildStub(r.rec)
	r.rec.RegisterStub(&execx.Stub{Prefix: []string{"nixos-rebuild", "switch", "--rollback"}, Func: func(execx.Cmd) (string, int) {
		rolledBack.Store(true)
		return "", 0
	}})
	r.rec.Register([]string{"nixos-rebuild", "switch", "--flake"}, "", 0)
	rep := r.exec(t, context.Background())
	r.rec.Verify(t)
	got := activations(r.rec)
	if len(got) != 4 || !sameSet(got[:2], "a", "b") || !sameSet(got[2:], "c", "d") {
		t.Fatalf("want a, b then c, d activated (e never): %q", got)
	}
	// Batch 2 starts only when batch 1 has ended (health checks included).
	calls := r.rec.Calls()
	var end1, start2 []execx.Call
	for _, c := range calls {
		switch h := hostOf(c.Cmd.Argv); {
		case h == "a" || h == "b":
			end1 = append(end1, c)
		case (h == "c" || h == "d") && c.Cmd.Argv[2] == "--flake":
			start2 = append(start2, c)
		}
	}
	for _, x := range end1 {
		for _, y := range start2 {
			if y.Start.Before(x.End) {
				t.Errorf("%s started before %s's activation ended", hostOf(y.Cmd.Argv), hostOf(x.Cmd.Argv))
			}
		}
	}
	for name, want := range map[string]struct {
		result string
		batch  int
	}{"a": {ResultOK, 1}, "b": {ResultOK, 1}, "c": {ResultRolledBack, 2}, "d": {ResultOK, 2}, "e": {ResultNotStarted, 0}} {
		res := result(t, rep, name)
		if res.Result != want.result || res.Batch != want.batch {
			t.Errorf("%s: %+v, want %s in batch %d", name, res, want.result, want.batch)
		}
	}
	e := result(t, rep, "e")
	if e.Stage != StageActivate || e.Error != "not started: batch 2 of 3 had c rolled back" || !strings.Contains(e.Hint, "deploy again") {
		t.Errorf("e: %+v", e)
	}
	if r.host("e").locked() || r.host("e").record(t).Result != ResultNotStarted {
		t.Error("e's lock must be released, with not started recorded")
	}
	if rep.Kind() != fault.Partial {
		t.Errorf("kind %v, want %v", rep.Kind(), fault.Partial)
	}
}

// TestCanaryFirstAndAlone: the canary c is activated before anyone else;
// when it fails, nobody else is started.
func TestCanaryFirstAndAlone(t *testing.T) {
	t.Parallel()
	r := newRun(t, fiveHosts)
	r.opts.Canary = []string{"c"}
	buildStub(r.rec)
	r.rec.Register([]string{"nixos-rebuild", "switch", "--flake", "/fleet#c"}, "", 1)
	rep := r.exec(t, context.Background())
	r.rec.Verify(t)
	if got := activations(r.rec); !slices.Equal(got, []string{"c"}) {
		t.Fatalf("only the canary may be activated: %q", got)
	}
	if c := result(t, rep, "c"); c.Result != ResultFailed || c.Batch != 1 {
		t.Errorf("c: %+v", c)
	}
	for _, n := range []string{"a", "b", "d", "e"} {
		res := result(t, rep, n)
		if res.Result != ResultNotStarted || !strings.Contains(res.Error, "not started: canary c failed; the other hosts wait for every canary to be healthy") {
			t.Errorf("%s: %+v", n, res)
		}
	}
	if rep.Kind() != fault.AllFailed {
		t.Errorf("kind %v: no host was deployed", rep.Kind())
	}

	// A healthy canary lets the others go, in batches of 50% of them.
	r = newRun(t, fiveHosts)
	r.opts.Canary = []string{"d"}
	r.opts.Batch = inventory.Batch{N: 50, Percent: true}
	buildStub(r.rec)
	r.rec.Register([]string{"nixos-rebuild", "switch", "--flake"}, "", 0)
	rep = r.exec(t, context.Background())
	if rep.Kind() != fault.OK {
		t.Fatalf("kind %v: %+v", rep.Kind(), rep.Hosts)
	}
	got := activations(r.rec)
	if len(got) != 5 || got[0] != "d" || !sameSet(got[1:3], "a", "b") || !sameSet(got[3:], "c", "e") {
		t.Fatalf("want d, then a b, then c e: %q", got)
	}
	for n, b := range map[string]int{"d": 1, "a": 2, "b": 2, "c": 3, "e": 3} {
		if res := result(t, rep, n); res.Batch != b {
			t.Errorf("%s in batch %d, want %d", n, res.Batch, b)
		}
	}
}

func sameSet(got []string, want ...string) bool {
	g := slices.Clone(got)
	slices.Sort(g)
	slices.Sort(want)
	return slices.Equal(g, want)
}
