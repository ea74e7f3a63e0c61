package deploy

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nixctl/nixctl/internal/execx"
	"github.com/nixctl/nixctl/internal/fault"
	"github.com/nixctl/nixctl/internal/nix"
)

// BenchmarkDeploy20Hosts deploys 20 fake hosts whose nixos-rebuild takes
// 200 ms, with --parallel 10 and one after another, and reports the speedup
// and nixctl's own time per host (elapsed minus the fake's sleeping).
func BenchmarkDeploy20Hosts(b *testing.B) {
	const hosts, activation = 20, 200 * time.Millisecond
	var yaml strings.Builder
	yaml.WriteString("hosts:\n")
	for i := range hosts {
		fmt.Fprintf(&yaml, "  - {name: h%d, address: h%d.example, health: [{command: \"true\"}]}\n", i, i)
	}
	f := fakeFleet(b, yaml.String())
	deployOnce := func(parallel int) time.Duration {
		n := fakeNet{}
		for _, h := range f.Hosts {
			n[h.Address] = &fakeHost{generation: 2}
		}
		rec := &execx.Recorder{}
		buildStub(rec)
		rec.RegisterStub(&execx.Stub{Prefix: []string{"nixos-rebuild"}, Func: func(execx.Cmd) (string, int) {
			time.Sleep(activation)
			return "", 0
		}})
		p, err := NewPlan(f, f.Hosts, Options{Action: "switch", NoCheck: true, Parallel: parallel, Flavour: nix.FlavourBash}, routesIn(b, b.TempDir()))
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		rep := Run(context.Background(), Env{Runner: rec, Hosts: n, Events: &events{}, Fleet: f, RunID: "bench"}, p)
		if rep.Kind() != fault.OK {
			b.Fatalf("%+v", rep.Hosts)
		}
		return time.Since(start)
	}
	var par, seq time.Duration
	for b.Loop() {
		par += deployOnce(10)
		seq += deployOnce(1)
	}
	n := time.Duration(b.N)
	par, seq = par/n, seq/n
	b.ReportMetric(float64(seq)/float64(par), "speedup")
	b.ReportMetric(float64(par.Milliseconds()), "ms/parallel-run")
	b.ReportMetric(float64(seq.Milliseconds()), "ms/sequential-run")
	b.ReportMetric(float64((seq-hosts*activation).Microseconds())/hosts/1000, "ms-overhead/host")
}
