package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nixctl/nixctl/internal/app"
	"github.com/nixctl/nixctl/internal/execx"
	"github.com/nixctl/nixctl/internal/exitcode"
	"github.com/nixctl/nixctl/internal/testutil"
	"github.com/nixctl/nixctl/internal/ui"
)

// overlap runs the evaluations (nix eval) of a Recorder and holds each one
// until want of them run at once, or until a grace period has passed: a
// bound that holds keeps the peak at the bound, and a bound that is ignored
// shows up as a higher peak, however fast the stubs answer.
type overlap struct {
	*execx.Recorder
	// evaluation is the argv prefix of the processes counted.
	evaluation []string
	want       int
	grace      time.Duration

	mu      sync.Mutex
	active  int
	peak    int
	evals   int
	done    bool
	reached chan struct{}
}

func newOverlap(rec *execx.Recorder, evaluation []string, want int, grace time.Duration) *overlap {
	return &overlap{Recorder: rec, evaluation: evaluation, want: want, grace: grace, reached: make(chan struct{})}
}

func (o *overlap) Run(ctx context.Context, c execx.Cmd) (*execx.Result, error) {
	if len(c.Argv) < len(o.evaluation) || !slices.Equal(c.Argv[:len(o.evaluation)], o.evaluation) {
		return o.Recorder.Run(ctx, c)
	}
	o.mu.Lock()
	o.active++
	o.evals++
	if o.active > o.peak {
		o.peak = o.active
	}
	if o.active == o.want && !o.done {
		o.done = true
		close(o.reached)
	}
	o.mu.Unlock()
	select {
	case <-o.reached:
	case <-time.After(o.grace):
	}
	defer func() {
		o.mu.Lock()
		o.active--
		o.mu.Unlock()
	}()
	return o.Recorder.Run(ctx, c)
}

func numberedHosts(n int) []string {
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("h%d", i)
	}
	return names
}

// bigFleet is an inventory of n hosts, with a .sops.yaml when sops is set.
func bigFleet(t *testing.T, n int, sops bool) string {
	t.Helper()
	var inv strings.Builder
	inv.WriteString("hosts:\n")
	for i, name := range numberedHosts(n) {
		fmt.Fprintf(&inv, "  - {name: %s, address: 10.1.%d.%d}\n", name, i/250, i%250+1)
	}
	// A flake without inputs: no process waits for another to write its lock.
	files := map[string]string{"nixctl.yaml": inv.String(), "flake.nix": "{ outputs = { self }: { }; }\n"}
	if sops {
		files[".sops.yaml"] = "creation_rules:\n  - path_regex: secrets/.*\n    age: age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p\n"
	}
	return testutil.WriteTree(t, files)
}

// --eval-jobs bounds the nix evaluation processes each command that
// evaluates many machines runs at once: 250 hosts make three chunks of at
// most 100, evaluated one at a time with --eval-jobs 1 and all three at
// once with --eval-jobs 3.
func TestEvalJobsBoundsTheEvaluationProcesses(t *testing.T) {
	t.Parallel()
	const hosts = 250
	answer := func(name string) (testutil.EvalAnswer, bool) {
		return testutil.EvalAnswer{DrvPath: "/nix/store/" + strings.Repeat("a", 32) + "-" + name + ".drv"}, true
	}
	// The secrets check's answer matters less than its processes: every
	// host is missing from the flake, which the check reports without SSH.
	missing := func(string) (testutil.EvalAnswer, bool) { return testutil.EvalAnswer{}, false }
	for _, tc := range []struct {
		args []string
		sops bool
		stub *execx.Stub
	}{
		{[]string{"check", "--no-build"}, false, testutil.EvalStubFunc(answer)},
		{[]string{"secrets", "check"}, true, testutil.EvalFlakeStubFunc(missing)},
		{[]string{"ci", "--no-build"}, false, testutil.EvalStubFunc(answer)},
		{[]string{"deploy", "--all", "--dry-run", "--no-magic-rollback"}, false, testutil.EvalStubFunc(answer)},
	} {
		for _, jobs := range []int{1, 3} {
			name := fmt.Sprintf("%s --eval-jobs %d", strings.Join(tc.args, " "), jobs)
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				dir := bigFleet(t, hosts, tc.sops)
				rec := &execx.Recorder{Paths: map[string]string{"nix": "/bin/nix"}}
				rec.Register([]string{"nix", "flake", "check"}, "", 0)
				// ci holds the inventory against the flake's lists.
				names, _ := json.Marshal(numberedHosts(hosts))
				rec.Register([]string{"nix", "eval", "--json", dir + "#nixosConfigurations", "--apply", "builtins.attrNames"}, string(names), 0)
				rec.Register([]string{"nix", "eval", "--json", dir + "#homeConfigurations", "--apply", "builtins.attrNames"}, "[]", 0)
				rec.RegisterStub(tc.stub)
				// Held until a second process joins it (or 300 ms): one that
				// ran beside it would raise the peak above 1.
				want, grace := jobs, 10*time.Second
				if jobs == 1 {
					want, grace = 2, 300*time.Millisecond
				}
				r := newOverlap(rec, tc.stub.Prefix, want, grace)
				var out, errb bytes.Buffer
				deps := app.New(app.Parts{Runner: r, Env: testEnv(nil), Cwd: dir, Version: "test",
					Stdio: ui.Stdio{In: strings.NewReader(""), Out: &out, Err: &errb}})
				code := runDeps(deps, append(tc.args, "--eval-jobs", fmt.Sprint(jobs))...)
				if code == exitcode.Usage || code == exitcode.Failure || code == exitcode.Inventory {
					t.Fatalf("exit %d:\n%s", code, errb.String())
				}
				if r.evals != 3 {
					t.Errorf("%d evaluation processes for %d hosts, want 3 chunks:\n%s", r.evals, hosts, strings.Join(rec.Argvs(), "\n"))
				}
				if r.peak != jobs {
					t.Errorf("%d evaluations ran at once, want %d (--eval-jobs %d)", r.peak, jobs, jobs)
				}
			})
		}
	}
}

func TestEvalJobsRefusesANegativeCount(t *testing.T) {
	t.Parallel()
	dir := testutil.WriteTree(t, map[string]string{"nixctl.yaml": fleetYAML, "flake.nix": "{}"})
	for _, args := range [][]string{{"check"}, {"secrets", "check"}, {"status"}, {"deploy", "--all"}, {"plan", "--all"}, {"ci"}} {
		rec := &execx.Recorder{Paths: map[string]string{"nix": "/bin/nix"}}
		r := runIn(t, dir, rec, nil, append(args, "--eval-jobs", "-2")...)
		if r.code != exitcode.Usage || !strings.Contains(r.stderr, "--eval-jobs -2 is not a number of processes") {
			t.Errorf("%v: exit %d:\n%s", args, r.code, r.stderr)
		}
		if len(rec.Calls()) != 0 {
			t.Errorf("%v ran %v before refusing", args, rec.Argvs())
		}
	}
}
