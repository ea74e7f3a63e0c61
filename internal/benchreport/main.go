// Command benchreport is `make bench`'s table: each line runs nixctl and a
// baseline side by side in the same run, alternating, and prints the ratio of
// their median times with the goal it is held to. Absolute times on a shared
// machine mean little; ratios measured together mean more.
//
//	go run ./internal/benchreport [-runs N] [-only NAME]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nixctl/nixctl/internal/execx"
)

// comparison is one line of the table.
type comparison struct {
	name string
	// needs lists programs without which the line is reported as skipped.
	needs []string
	run   func(ctx context.Context, env *env) (row, error)
}

// row is a measured line.
type row struct {
	what     string // what was compared
	ours     string // nixctl's figure
	baseline string // the baseline's figure
	ratio    string // e.g. "9.4x faster"
	goal     string
	met      bool
}

// env is what comparisons share: a built nixctl, a scratch dir, the runner.
type env struct {
	nixctl string
	tmp    string
	runs   int
	r      execx.Runner
	root   string
}

// comparisons in the order printed. Each lives in its own file.
var comparisons []comparison

func register(c comparison) { comparisons = append(comparisons, c) }

func main() {
	runs := flag.Int("runs", 5, "runs of each side (medians are compared)")
	only := flag.String("only", "", "run only comparisons whose name contains this")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := mainErr(ctx, *runs, *only); err != nil {
		fmt.Fprintln(os.Stderr, "benchreport:", err)
		os.Exit(1)
	}
}

func mainErr(ctx context.Context, runs int, only string) error {
	root, err := os.Getwd()
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "nixctl-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	r := execx.NewReal()
	e := &env{nixctl: filepath.Join(tmp, "bin", "nixctl"), tmp: tmp, runs: runs, r: r, root: root}
	fmt.Fprintln(os.Stderr, "building nixctl…")
	if _, err := r.Run(ctx, execx.Cmd{Argv: []string{"go", "build", "-trimpath", "-o", e.nixctl, "./cmd/nixctl"}, Dir: root, Stderr: os.Stderr}); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "COMPARISON\tNIXCTL\tBASELINE\tRATIO\tGOAL\t")
	failed := 0
	for _, c := range comparisons {
		if only != "" && !strings.Contains(c.name, only) {
			continue
		}
		if missing := missingTools(r, c.needs); len(missing) > 0 {
			fmt.Fprintf(tw, "%s\t-\t-\tskipped: needs %s\t\t\n", c.name, strings.Join(missing, ", "))
			continue
		}
		fmt.Fprintf(os.Stderr, "measuring %s…\n", c.name)
		rw, err := c.run(ctx, e)
		if err != nil {
			failed++
			fmt.Fprintf(tw, "%s\t-\t-\tfailed: %v\t\t\n", c.name, oneLine(err))
			continue
		}
		mark := "✓"
		if !rw.met {
			mark = "✗"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s %s\t\n", rw.what, rw.ours, rw.baseline, rw.ratio, mark, rw.goal)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if failed > 0 {
		return fmt.Errorf("%d comparisons failed", failed)
	}
	return nil
}

func missingTools(r execx.Runner, tools []string) []string {
	var out []string
	for _, t := range tools {
		if _, err := r.LookPath(t); err != nil {
			out = append(out, t)
		}
	}
	return out
}

// timeCmd runs c once and returns its wall time; a failure is an error.
func timeCmd(ctx context.Context, r execx.Runner, c execx.Cmd) (time.Duration, *execx.Result, error) {
	res, err := r.Run(ctx, c)
	if err != nil {
		return 0, res, fmt.Errorf("%s: %w", execx.Quote(c.Argv), err)
	}
	return res.Duration, res, nil
}

// sideBySide runs a and b alternately n times each (after one warm-up of
// each) and returns their medians.
func sideBySide(ctx context.Context, n int, a, b func() (time.Duration, error)) (time.Duration, time.Duration, error) {
	if _, err := a(); err != nil {
		return 0, 0, err
	}
	if _, err := b(); err != nil {
		return 0, 0, err
	}
	var as, bs []time.Duration
	for i := 0; i < n; i++ {
		if err := ctx.Err(); err != nil {
			return 0, 0, err
		}
		da, err := a()
		if err != nil {
			return 0, 0, err
		}
		db, err := b()
		if err != nil {
			return 0, 0, err
		}
		as, bs = append(as, da), append(bs, db)
	}
	return median(as), median(bs), nil
}

func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

// speed describes ours against baseline as "N.Nx faster" or "N.Nx slower".
func speed(ours, baseline time.Duration) (string, float64) {
	if ours <= 0 {
		return "n/a", 0
	}
	f := float64(baseline) / float64(ours)
	if f >= 1 {
		return fmt.Sprintf("%.1fx faster", f), f
	}
	return fmt.Sprintf("%.1fx slower", 1/f), f
}

func ms(d time.Duration) string {
	if d < 10*time.Millisecond {
		return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
	}
	return d.Round(time.Millisecond).String()
}

func oneLine(err error) string {
	s := err.Error()
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 120 {
		s = s[:120] + "…"
	}
	return s
}

func writeFile(path, content string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(content), 0o644)
}
