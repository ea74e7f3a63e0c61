package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nixctl/nixctl/internal/deploy"
	"github.com/nixctl/nixctl/internal/execx"
	"github.com/nixctl/nixctl/internal/hostops"
	"github.com/nixctl/nixctl/internal/inventory"
	"github.com/nixctl/nixctl/internal/nix"
	"github.com/nixctl/nixctl/internal/remote"
)

// The deploy comparison: fleets of these sizes, --parallel 10, and a fake
// nixos-rebuild that is a real process sleeping 200 ms.
const (
	deployParallel   = 10
	deployActivation = 200 * time.Millisecond
)

func init() {
	for _, n := range []int{20, 100} {
		register(comparison{
			name: fmt.Sprintf("deploy-%d", n),
			run:  func(ctx context.Context, e *env) (row, error) { return deployRow(ctx, e, n, inventory.Batch{}) },
		})
	}
	// A rollout in batches waits for each batch's health checks before the
	// next: the price of stopping early, paid in rounds of --parallel.
	register(comparison{
		name: "deploy-100-batch-25%",
		run: func(ctx context.Context, e *env) (row, error) {
			return deployRow(ctx, e, 100, inventory.Batch{N: 25, Percent: true})
		},
	})
}

// deployRow runs nixctl's deploy executor in this process (plan, preflight,
// lock, one build, activation, health check, lock release) with the real
// runner starting a fake nixos-rebuild and a fake nix build as processes;
// only SSH is answered in memory (a real sshd per host would measure sshd).
// The baseline is what a script does without nixctl: a shell loop running
// the same fake once per host, one after another.
func deployRow(ctx context.Context, e *env, hosts int, batch inventory.Batch) (row, error) {
	dir := filepath.Join(e.tmp, fmt.Sprintf("deploy-%d-%d", hosts, batch.N))
	rebuild, nixFake := filepath.Join(dir, "bin", "nixos-rebuild"), filepath.Join(dir, "bin", "nix")
	if err := writeFile(rebuild, fmt.Sprintf("#!/bin/sh\nsleep %g\n", deployActivation.Seconds())); err != nil {
		return row{}, err
	}
	if err := writeFile(nixFake, fakeNix); err != nil {
		return row{}, err
	}
	for _, p := range []string{rebuild, nixFake} {
		if err := os.Chmod(p, 0o755); err != nil {
			return row{}, err
		}
	}
	var inv strings.Builder
	inv.WriteString("hosts:\n")
	names := make([]string, hosts)
	for i := range hosts {
		names[i] = fmt.Sprintf("host-%d", i)
		fmt.Fprintf(&inv, "  - {name: %s, address: 10.0.%d.%d, health: [{command: \"true\"}]}\n", names[i], i/250, i%250+1)
	}
	fleet, err := inventory.ParseAt("nixctl.yaml", filepath.Join(dir, "nixctl.yaml"), []byte(inv.String()))
	if err != nil {
		return row{}, err
	}
	fleet.Flake, fleet.Dir = dir, dir
	runner := fakeTools{Runner: e.r, paths: map[string]string{"nixos-rebuild": rebuild, "nix": nixFake}}

	// Routes come from an empty ssh configuration of the bench's own.
	ssh, err := remote.New(remote.Env{Home: dir, SystemHome: dir, SystemConfig: filepath.Join(dir, "no-ssh-config")})
	if err != nil {
		return row{}, err
	}
	ours := func() (time.Duration, error) {
		p, err := deploy.NewPlan(fleet, fleet.Hosts, deploy.Options{Action: "switch", NoCheck: true, Parallel: deployParallel, Flavour: nix.FlavourNG, StorePath: true, Batch: batch}, ssh)
		if err != nil {
			return 0, err
		}
		start := time.Now()
		rep := deploy.Run(ctx, deploy.Env{Runner: runner, Hosts: answeringHosts{}, Events: quietEvents{}, Fleet: fleet, RunID: "bench", Who: "bench@here"}, p)
		d := time.Since(start)
		for _, h := range rep.Hosts {
			if !h.OK() {
				return 0, fmt.Errorf("%s: %s at %s: %s", h.Host, h.Result, h.Stage, h.Error)
			}
		}
		return d, nil
	}
	// The loop runs what nixos-rebuild switch --flake runs for each host:
	// nix build of the host's toplevel (its evaluation and build, the same
	// fake nix nixctl's side runs once for all hosts), then the activation.
	loop := func() (time.Duration, error) {
		script := `rebuild=$1; nix=$2; shift 2
for h in "$@"; do
  "$nix" build --no-link --json "$PWD#nixosConfigurations.$h.config.system.build.toplevel" >/dev/null || exit 1
  "$rebuild" switch --flake "$PWD#$h" --target-host "root@$h" || exit 1
done`
		d, _, err := timeCmd(ctx, e.r, execx.Cmd{Argv: append([]string{"sh", "-c", script, "loop", rebuild, nixFake}, names...), Dir: dir})
		return d, err
	}
	runs := max(1, e.runs/2)
	if hosts > 20 {
		runs = 1 // the loop alone takes hosts × 200 ms
	}
	par, seq, err := sideBySide(ctx, runs, ours, loop)
	if err != nil {
		return row{}, err
	}
	// Each batch takes ceil(batch size / parallel) rounds of one activation.
	size := batch.Size(hosts)
	rounds := (hosts / size) * ((size + deployParallel - 1) / deployParallel)
	if rest := hosts % size; rest > 0 {
		rounds += (rest + deployParallel - 1) / deployParallel
	}
	ideal := time.Duration(rounds) * deployActivation
	overhead := (par - ideal) / time.Duration(hosts)
	loopOverhead := (seq - time.Duration(hosts)*deployActivation) / time.Duration(hosts)
	ratio, f := speed(par, seq)
	best := float64(hosts) * float64(deployActivation) / float64(ideal)
	what := fmt.Sprintf("deploy: %d hosts --parallel %d", hosts, deployParallel)
	if !batch.IsZero() {
		what += " --batch " + batch.String()
	}
	return row{
		what:     what + " vs a sequential loop of nix build + nixos-rebuild (fakes; activation a 200ms process; SSH in memory)",
		ours:     fmt.Sprintf("%s (+%s/host)", ms(par), ms(overhead)),
		baseline: fmt.Sprintf("%s (+%s/host)", ms(seq), ms(loopOverhead)),
		ratio:    ratio,
		goal:     fmt.Sprintf("≥ %.0fx (ideal %.0fx), overhead < 5ms/host", 0.8*best, best),
		met:      f >= 0.8*best && overhead < 5*time.Millisecond,
	}, nil
}

// fakeNix answers the nix calls of a deploy with --no-check at once: the
// one evaluation of every host (a derivation per host, named after it),
// nix --version, and the build of those derivations (one output each).
const fakeNix = `#!/bin/sh
case "$1" in
--version) echo "nix (Nix) 2.8.0" ;;
eval)
  for a; do printf '%s\n' "$a"; done | grep -o '(one [0-9]* [A-Za-z0-9_]* "[^"]*"' | tr -d '"(' |
    awk 'BEGIN { printf "[" } { if (NR > 1) printf ","; p = "/nix/store/00000000000000000000000000000000-nixos-system-" $4;
      printf "\"nixctl-eval done %s {\\\"d\\\":\\\"%s.drv\\\",\\\"o\\\":\\\"%s\\\"}\"", $2, p, p } END { print "]" }' ;;
build)
  sep=; printf '['; for a; do case "$a" in
    *.drv) printf '%s{"drvPath":"%s","outputs":{"out":"%s"}}' "$sep" "$a" "${a%.drv}"; sep="," ;;
  esac; done; echo "]" ;;
*) echo "fake nix: $*" >&2; exit 1 ;;
esac
`

// fakeTools runs the fakes in place of the programs they stand for.
type fakeTools struct {
	execx.Runner
	paths map[string]string
}

func (r fakeTools) Run(ctx context.Context, c execx.Cmd) (*execx.Result, error) {
	if p, ok := r.paths[c.Argv[0]]; ok {
		c.Argv = append([]string{p}, c.Argv[1:]...)
	}
	return r.Runner.Run(ctx, c)
}

// answeringHosts answers nixctl's host operations as a healthy host does:
// nix is there, the lock is free, generation 2 is active, checks pass. The
// operations build their command lines as for a real host; only the
// connection is in memory.
type answeringHosts struct{}

func (answeringHosts) Connect(_ context.Context, t remote.Route, sudo bool) (hostops.System, error) {
	return hostops.New(answeringConn{}, "/", sudo, t.String())
}

type answeringConn struct{}

func (answeringConn) Stream(ctx context.Context, command string, stdin io.Reader, stdout, _ io.Writer) (int, error) {
	if stdin != nil {
		_, _ = io.Copy(io.Discard, stdin)
	}
	if strings.Contains(command, " nixctl-system-generation ") && stdout != nil {
		_, _ = io.WriteString(stdout, "system-2-link\n")
	}
	return 0, ctx.Err()
}

func (answeringConn) Close() error { return nil }

type quietEvents struct{}

func (quietEvents) Stage(string, string)      {}
func (quietEvents) Done(string, string, bool) {}
func (quietEvents) Writer(string) io.Writer   { return io.Discard }
