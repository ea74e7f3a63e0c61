package deploy

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/nixctl/nixctl/internal/execx"
	"github.com/nixctl/nixctl/internal/nix"
	"github.com/nixctl/nixctl/internal/testutil"
)

// countingRunner remembers the argv of every command it passes on.
type countingRunner struct {
	execx.Runner
	mu    sync.Mutex
	argvs [][]string
}

func (c *countingRunner) Run(ctx context.Context, cmd execx.Cmd) (*execx.Result, error) {
	c.mu.Lock()
	c.argvs = append(c.argvs, cmd.Argv)
	c.mu.Unlock()
	return c.Runner.Run(ctx, cmd)
}

func (c *countingRunner) count(sub string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, a := range c.argvs {
		if a[0] == "nix" && a[1] == sub {
			n++
		}
	}
	return n
}

const cachedSystemsFlake = `{
  outputs = _: let
    sys = name: {
      config.system.build.toplevel = derivation {
        inherit name;
        system = "SYSTEM";
        builder = "/bin/sh";
        args = [ "-c" "/bin/mkdir $out && echo NONCE > $out/id" ];
      };
    };
  in {
    nixosConfigurations.a = sys "nixos-system-a";
    nixosConfigurations.b = sys "nixos-system-b";
  };
}
`

// TestRealCachePushedOnceBeforeActivation builds two systems with real nix,
// pushes them with one real nix copy to a file:// binary cache, and only
// then activates each host with --use-substitutes.
func TestRealCachePushedOnceBeforeActivation(t *testing.T) {
	testutil.Require(t, "nix")
	// A fresh nonce: paths the cache must really receive, not old ones.
	flake := strings.ReplaceAll(strings.ReplaceAll(cachedSystemsFlake, "SYSTEM", nix.System()), "NONCE", filepath.Base(t.TempDir()))
	dir := testutil.WriteTree(t, map[string]string{"flake.nix": flake})
	f := fakeFleet(t, "hosts:\n  - {name: a, address: 10.0.0.1}\n  - {name: b, address: 10.0.0.2}\n")
	f.Flake, f.Dir = dir, dir
	cache := t.TempDir()
	n := fakeNet{"10.0.0.1": &fakeHost{generation: 3}, "10.0.0.2": &fakeHost{generation: 3}}
	rec := &execx.Recorder{}
	var pushedBeforeActivation bool
	rec.RegisterStub(&execx.Stub{Prefix: []string{"nixos-rebuild", "switch"}, Func: func(c execx.Cmd) (string, int) {
		entries, _ := filepath.Glob(filepath.Join(cache, "*.narinfo"))
		pushedBeforeActivation = len(entries) >= 2
		if !slices.Contains(c.Argv, "--use-substitutes") {
			return "", 2
		}
		return "", 0
	}})
	runner := &countingRunner{Runner: activating{byProgram{execx.NewReal(), rec}, n, flakeEvaluates(t, dir)}}
	p, err := NewPlan(f, f.Hosts, Options{Action: "switch", NoCheck: true, Flavour: nix.FlavourBash, Cache: "file://" + cache}, routesIn(t, t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	rep := Run(context.Background(), Env{Runner: runner, Hosts: n, Events: &events{}, Fleet: f, RunID: "r"}, p)
	rec.Verify(t)
	for _, h := range rep.Hosts {
		if !h.OK() {
			t.Errorf("%s: %+v", h.Host, h)
		}
	}
	if got := runner.count("copy"); got != 1 {
		t.Errorf("%d nix copy runs, want one for the whole fleet", got)
	}
	if !pushedBeforeActivation {
		t.Error("the systems must be in the cache before any host activates")
	}
	// The cache holds both systems (a narinfo per store path, named by its hash).
	for _, h := range rep.Hosts {
		hash := strings.TrimPrefix(h.StorePath, "/nix/store/")
		if len(hash) < 32 {
			t.Fatalf("%s: no store path in the report: %+v", h.Host, h)
		}
		hash = hash[:32]
		if _, err := os.Stat(filepath.Join(cache, hash+".narinfo")); err != nil {
			t.Errorf("%s's system is not in the cache: %v", h.Host, err)
		}
	}
}

// TestRealCachePushFailureStopsBeforeActivation: a cache nix cannot write
// to fails every host at the cache stage, and nothing is activated.
func TestRealCachePushFailureStopsBeforeActivation(t *testing.T) {
	testutil.Require(t, "nix")
	flake := strings.ReplaceAll(strings.ReplaceAll(cachedSystemsFlake, "SYSTEM", nix.System()), "NONCE", "cache-failure")
	dir := testutil.WriteTree(t, map[string]string{"flake.nix": flake})
	f := fakeFleet(t, "hosts:\n  - {name: a, address: 10.0.0.1}\n")
	f.Flake, f.Dir = dir, dir
	notADir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notADir, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	rec := &execx.Recorder{}
	p, err := NewPlan(f, f.Hosts, Options{Action: "switch", NoCheck: true, Flavour: nix.FlavourBash, Cache: "file://" + notADir}, routesIn(t, t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	rep := Run(context.Background(), Env{Runner: byProgram{execx.NewReal(), rec}, Hosts: fakeNet{"10.0.0.1": &fakeHost{}}, Events: &events{}, Fleet: f, RunID: "r"}, p)
	a := result(t, rep, "a")
	if a.Result != ResultFailed || a.Stage != StageCache || !strings.Contains(a.Error, "pushing the built systems to the cache file://"+notADir) || !strings.Contains(a.Hint, "without --cache") {
		t.Errorf("a: %+v", a)
	}
	if len(rec.Calls()) != 0 {
		t.Errorf("nothing may be activated: %q", rec.Argvs())
	}
}
