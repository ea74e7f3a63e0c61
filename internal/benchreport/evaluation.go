package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nixctl/nixctl/internal/deploy"
	"github.com/nixctl/nixctl/internal/eval"
	"github.com/nixctl/nixctl/internal/execx"
	"github.com/nixctl/nixctl/internal/inventory"
	"github.com/nixctl/nixctl/internal/nix"
	"github.com/nixctl/nixctl/internal/remote"
	"github.com/nixctl/nixctl/internal/secrets"
)

// sharedTerms sizes the expression every host of sharedFleet forces: one
// nix eval of all hosts' drvPaths (the floor) then takes about 0.6 s on a
// 2-core machine, the floor the single evaluation was first measured
// against. A real nixpkgs takes seconds per NixOS system, so the fixed
// costs around the evaluation weigh less there than here.
const sharedTerms = 600000

// sharedFleet is a flake whose hosts all force one expensive expression,
// standing for nixpkgs; each host adds almost nothing to it.
func sharedFleet(dir string, hosts int) ([]string, error) {
	names := make([]string, hosts)
	var inv, outs strings.Builder
	inv.WriteString("hosts:\n")
	for i := range names {
		names[i] = fmt.Sprintf("host-%d", i)
		fmt.Fprintf(&inv, "  - {name: %s, address: 10.0.%d.%d}\n", names[i], i/250, i%250+1)
		fmt.Fprintf(&outs, "    %s = mk %q;\n", names[i], names[i])
	}
	flake := `{
  outputs = { self }: let
    nixpkgs = builtins.foldl' (a: b: a + b) 0 (builtins.genList (x: x * 2) ` + strconv.Itoa(sharedTerms) + `);
    mk = name: {
      config.system.build.toplevel = derivation {
        name = "nixos-system-${name}";
        system = "x86_64-linux";
        builder = "/bin/sh";
        args = [ "-c" "echo ${toString nixpkgs} > $out" ];
      };
    };
  in {
    nixosConfigurations = {
` + outs.String() + `    };
  };
}
`
	if err := writeFile(filepath.Join(dir, "flake.nix"), flake); err != nil {
		return nil, err
	}
	return names, writeFile(filepath.Join(dir, "nixctl.yaml"), inv.String())
}

func init() {
	for _, n := range []int{20, 100} {
		register(comparison{
			name:  fmt.Sprintf("check-eval-%d", n),
			needs: []string{"nix"},
			run:   func(ctx context.Context, e *env) (row, error) { return checkEvalRow(ctx, e, n) },
		})
	}
	register(comparison{name: "deploy-eval-20", needs: []string{"nix"}, run: deployEvalRow})
}

// measured is one run: wall time, and the peak resident memory of the
// largest process of its tree (wait4's ru_maxrss), in KiB.
type measured struct {
	wall time.Duration
	rss  int64
}

// checkEvalRow runs nixctl check and the floor alternately and compares
// their medians. The floor is one nix eval printing every host's drvPath.
// nixctl check also runs nix flake check (users expect it there), which
// evaluates every host again: nix flake check and the eval started together
// are measured too, to show what of the gap is that second evaluation.
func checkEvalRow(ctx context.Context, e *env, hosts int) (row, error) {
	dir := filepath.Join(e.tmp, fmt.Sprintf("shared-%d", hosts))
	if _, err := sharedFleet(dir, hosts); err != nil {
		return row{}, err
	}
	floorExpr := "cs: map (n: cs.${n}.config.system.build.toplevel.drvPath) (builtins.attrNames cs)"
	evalAll := execx.Cmd{Argv: nix.Nix("eval", "--json", nix.Installable(dir, "nixosConfigurations"), "--apply", floorExpr), Dir: dir}
	flakeCheck := execx.Cmd{Argv: nix.Nix("flake", "check", dir), Dir: dir}
	ours := execx.Cmd{Argv: []string{e.nixctl, "check", "--quiet"}, Dir: dir}
	// nixctl's own start, before it can start nix, measured in the same
	// alternation: what a wrapper costs over nix started by hand.
	startup := execx.Cmd{Argv: []string{e.nixctl, "version"}, Dir: dir}
	var ourRuns, floorRuns, evalRuns, startRuns []measured
	// One warm-up of each copies the flake to the store.
	for i := 0; i <= e.runs; i++ {
		for _, side := range []struct {
			into *[]measured
			cmds []execx.Cmd
		}{{&ourRuns, []execx.Cmd{ours}}, {&floorRuns, []execx.Cmd{flakeCheck, evalAll}}, {&evalRuns, []execx.Cmd{evalAll}}, {&startRuns, []execx.Cmd{startup}}} {
			m, err := together(ctx, e.r, side.cmds...)
			if err != nil {
				return row{}, err
			}
			*side.into = append(*side.into, m)
		}
	}
	o, f, ev, st := medians(ourRuns[1:]), medians(floorRuns[1:]), medians(evalRuns[1:]), medians(startRuns[1:])
	// The goal is judged against the floor: one nix eval of every drvPath.
	// Beside it, what nix alone needs for nixctl check's two results (nix
	// flake check evaluates every host again), so the line shows how much of
	// the gap is nix's own second evaluation and how much is nixctl.
	wall := float64(o.wall) / float64(ev.wall)
	mem := float64(o.rss) / float64(ev.rss)
	return row{
		what:     fmt.Sprintf("check-eval: nixctl check (nix flake check beside one evaluation), %d hosts sharing one expensive expression, vs one nix eval of every drvPath (the floor)", hosts),
		ours:     fmt.Sprintf("%s, %s (its start-up alone: %s)", ms(o.wall), mib(o.rss), ms(st.wall)),
		baseline: fmt.Sprintf("%s, %s (nix flake check and that nix eval started together: %s)", ms(ev.wall), mib(ev.rss), ms(f.wall)),
		ratio:    fmt.Sprintf("%.2fx time, %.2fx memory (%.2fx flake check + eval together)", wall, mem, float64(o.wall)/float64(f.wall)),
		goal:     "≤ 1.3x the floor's time, ≤ 1.5x its peak memory (largest process)",
		met:      wall <= 1.3 && mem <= 1.5,
	}, nil
}

// together starts cmds at once and measures them as one: the wall time
// until the last ends, and the largest peak memory among them.
func together(ctx context.Context, r execx.Runner, cmds ...execx.Cmd) (measured, error) {
	var wg sync.WaitGroup
	res := make([]*execx.Result, len(cmds))
	errs := make([]error, len(cmds))
	start := time.Now()
	for i, c := range cmds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, res[i], errs[i] = timeCmd(ctx, r, c)
		}()
	}
	wg.Wait()
	m := measured{wall: time.Since(start)}
	for i := range cmds {
		if errs[i] != nil {
			return measured{}, errs[i]
		}
		m.rss = max(m.rss, res[i].MaxRSS)
	}
	return m, nil
}

func medians(ms []measured) measured {
	ws := make([]time.Duration, len(ms))
	rs := make([]int64, len(ms))
	for i, m := range ms {
		ws[i], rs[i] = m.wall, m.rss
	}
	sort.Slice(rs, func(i, j int) bool { return rs[i] < rs[j] })
	return measured{median(ws), rs[len(rs)/2]}
}

func mib(kib int64) string { return fmt.Sprintf("%.0f MiB", float64(kib)/1024) }

// deployEvalRow deploys 20 hosts of the shared fleet with the executor in
// this process, the real nix, SSH answered in memory and a fake
// nixos-rebuild-ng (--store-path) that activates nothing, and counts how many times nix
// evaluated each host: the check stage's evaluation, then a build of the
// derivations it found. It counts a deploy with --no-check too.
func deployEvalRow(ctx context.Context, e *env) (row, error) {
	dir := filepath.Join(e.tmp, "deploy-eval-20")
	names, err := sharedFleet(dir, 20)
	if err != nil {
		return row{}, err
	}
	rebuild := filepath.Join(dir, "bin", "nixos-rebuild")
	if err := writeFile(rebuild, "#!/bin/sh\nexit 0\n"); err != nil {
		return row{}, err
	}
	if err := os.Chmod(rebuild, 0o755); err != nil {
		return row{}, err
	}
	inv, err := os.ReadFile(filepath.Join(dir, "nixctl.yaml"))
	if err != nil {
		return row{}, err
	}
	fleet, err := inventory.ParseAt("nixctl.yaml", filepath.Join(dir, "nixctl.yaml"), inv)
	if err != nil {
		return row{}, err
	}
	fleet.Flake, fleet.Dir = dir, dir
	ssh, err := remote.New(remote.Env{Home: dir, SystemHome: dir, SystemConfig: filepath.Join(dir, "no-ssh-config")})
	if err != nil {
		return row{}, err
	}
	if err := writeFile(filepath.Join(dir, ".sops.yaml"), "creation_rules: []\n"); err != nil {
		return row{}, err
	}
	session, err := secrets.NewSession(secrets.RepoOf(fleet), nil)
	if err != nil {
		return row{}, err
	}
	// The check stage's secrets check as deploy runs it when .sops.yaml
	// exists: each host's sops-nix declarations, read by the process that
	// evaluates its system.
	access := &deploy.SecretsAccess{
		Item: func(h inventory.Host) eval.Item { return secrets.DeclItems([]inventory.Host{h}, nil)[0] },
		Check: func(ctx context.Context, hosts []inventory.Host, evaluated []eval.Result) map[string]error {
			rep, err := session.CheckAccess(ctx, secrets.AccessCheckOptions{Fleet: fleet, Hosts: hosts, Evaluated: evaluated})
			return secrets.HostFailures(rep, err, hosts)
		},
	}
	per := func(noCheck bool, sa *deploy.SecretsAccess) (float64, time.Duration, error) {
		counter := &evalCounter{Runner: fakeTools{Runner: e.r, paths: map[string]string{"nixos-rebuild": rebuild}}, all: names, hosts: map[string]int{}}
		// nixos-rebuild-ng --store-path activates the built system: the
		// bash one would evaluate each host once more, outside nixctl.
		p, err := deploy.NewPlan(fleet, fleet.Hosts, deploy.Options{Action: "switch", NoCheck: noCheck, Parallel: deployParallel, Flavour: nix.FlavourNG, StorePath: true}, ssh)
		if err != nil {
			return 0, 0, err
		}
		start := time.Now()
		rep := deploy.Run(ctx, deploy.Env{Runner: counter, Hosts: answeringHosts{}, Events: quietEvents{}, Fleet: fleet, RunID: "bench", Who: "bench@here", SecretsAccess: sa}, p)
		d := time.Since(start)
		for _, h := range rep.Hosts {
			if !h.OK() {
				return 0, 0, fmt.Errorf("%s: %s at %s: %s", h.Host, h.Result, h.Stage, h.Error)
			}
		}
		total := 0
		for _, n := range names {
			total += counter.hosts[n]
		}
		return float64(total) / float64(len(names)), d, nil
	}
	checked, d, err := per(false, nil)
	if err != nil {
		return row{}, err
	}
	withSecrets, _, err := per(false, access)
	if err != nil {
		return row{}, err
	}
	unchecked, _, err := per(true, nil)
	if err != nil {
		return row{}, err
	}
	return row{
		what:     "deploy-eval: nix evaluations per host, deploy of 20 shared-expression hosts (real nix, fake nixos-rebuild-ng --store-path)",
		ours:     fmt.Sprintf("%.1f/host (%s); %.1f/host with the secrets check", checked, ms(d), withSecrets),
		baseline: fmt.Sprintf("%.1f/host with --no-check", unchecked),
		ratio:    fmt.Sprintf("%.1fx the goal", max(checked, withSecrets, unchecked)),
		goal:     "1 evaluation per host: with or without the check stage, with the secrets check",
		met:      checked == 1 && withSecrets == 1 && unchecked == 1,
	}, nil
}

// evalCounter counts, per host, the nix invocations that evaluate it:
// nixctl's evaluation of many (the hosts the expression names), a single
// evaluation, nix flake check (every host), and nix build of a flake
// attribute. Building a store derivation evaluates nothing.
type evalCounter struct {
	execx.Runner
	all   []string
	mu    sync.Mutex
	hosts map[string]int
}

var (
	evalManyHostRe = regexp.MustCompile(`\(one \d+ \w+ "([^"]+)" p\d+ \w+\)`)
	installableRe  = regexp.MustCompile(`#nixosConfigurations\.("[^"]+"|[A-Za-z0-9_'-]+)`)
)

func (c *evalCounter) Run(ctx context.Context, cmd execx.Cmd) (*execx.Result, error) {
	c.mu.Lock()
	// A process evaluates a host once, however many of its values it
	// reads (its system and its secrets declarations share the
	// evaluation of its configuration).
	seen := map[string]bool{}
	if len(cmd.Argv) > 1 && cmd.Argv[0] == "nix" {
		switch {
		case cmd.Argv[1] == "flake" && len(cmd.Argv) > 2 && cmd.Argv[2] == "check":
			for _, h := range c.all {
				seen[h] = true
			}
		case cmd.Argv[1] == "eval" || cmd.Argv[1] == "build":
			for _, a := range cmd.Argv {
				for _, m := range evalManyHostRe.FindAllStringSubmatch(a, -1) {
					seen[m[1]] = true
				}
				if m := installableRe.FindStringSubmatch(a); m != nil {
					seen[strings.Trim(m[1], `"`)] = true
				}
			}
		}
	}
	for h := range seen {
		c.hosts[h]++
	}
	c.mu.Unlock()
	return c.Runner.Run(ctx, cmd)
}
