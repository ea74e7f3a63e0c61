package eval

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nixctl/nixctl/internal/execx"
	"github.com/nixctl/nixctl/internal/nix"
	"github.com/nixctl/nixctl/internal/testutil"
)

// countingRunner runs commands for real and counts, per attribute name,
// how many nix processes started evaluating it (from the expression's own
// start traces) and how many evaluated it alone.
type countingRunner struct {
	execx.Runner
	mu        sync.Mutex
	processes int
	started   map[string]int
	alone     map[string]int
}

var (
	itemRe  = regexp.MustCompile(`\(one (\d+) \w+ "([^"]*)" p\d+ \w+\)`)
	aloneRe = regexp.MustCompile(`#(?:nixosConfigurations|homeConfigurations)\.([a-z0-9-]+)\.|flake\."(?:nixosConfigurations|homeConfigurations)"\."([^"]+)"`)
)

func newCounting() *countingRunner {
	return &countingRunner{Runner: execx.NewReal(), started: map[string]int{}, alone: map[string]int{}}
}

func (c *countingRunner) Run(ctx context.Context, cmd execx.Cmd) (*execx.Result, error) {
	res, err := c.Runner.Run(ctx, cmd)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.processes++
	if expr := manyExpr(cmd.Argv); expr != "" {
		names := map[int]string{}
		for _, m := range itemRe.FindAllStringSubmatch(expr, -1) {
			i, _ := strconv.Atoi(m[1])
			names[i] = m[2]
		}
		for _, line := range strings.Split(string(res.Stderr), "\n") {
			if ev, ok := nix.ParseEvalLine([]byte(line)); ok && ev.Status == nix.EvalStarted {
				c.started[names[ev.Index]]++
			}
		}
		return res, err
	}
	for _, a := range cmd.Argv {
		if m := aloneRe.FindStringSubmatch(a); m != nil {
			c.alone[m[1]+m[2]]++
		}
	}
	return res, err
}

// manyExpr is the expression of an evaluation of many items, if argv is one.
func manyExpr(argv []string) string {
	for _, a := range argv {
		if strings.Contains(a, "nixctl-eval") && itemRe.MatchString(a) {
			return a
		}
	}
	return ""
}

const brokenFleet = `{
  outputs = { self }: let
    # Stands for nixpkgs: every host forces it.
    shared = builtins.foldl' (a: b: a + b) 0 (builtins.genList (x: x) 20000);
    mk = name: body: {
      config.system.build.toplevel = derivation {
        name = "nixos-system-${name}";
        system = "x86_64-linux";
        builder = "/bin/sh";
        args = [ "-c" "echo ${toString shared} ${body} > $out" ];
      };
    };
  in {
    nixosConfigurations = {
      h1 = mk "h1" "ok";
      thrower = mk "thrower" (import ./hosts/thrower.nix);
      h2 = mk "h2" "ok";
      typed = mk "typed" (import ./hosts/typed.nix);
      h3 = mk "h3" "ok";
      aborter = mk "aborter" (import ./hosts/aborter.nix);
      h4 = mk "h4" "ok";
      looper = mk "looper" (import ./hosts/looper.nix);
      h5 = mk "h5" "ok";
    };
  };
}
`

var brokenHosts = map[string]string{
	"hosts/thrower.nix": "let\n  port = 22;\nin\n  throw \"The option services.openssh.port is used twice\"\n",
	"hosts/typed.nix":   "let\n  name = \"typed\";\nin\n  name + 1\n",
	"hosts/aborter.nix": "\n\n  abort \"evaluation aborted: no bootloader\"\n",
	"hosts/looper.nix":  "let\n  x = x + 1;\nin\n  x\n",
}

func TestRealFailuresAreIsolatedAndHealthyHostsEvaluatedOnce(t *testing.T) {
	testutil.Require(t, "nix")
	files := map[string]string{"flake.nix": brokenFleet}
	for k, v := range brokenHosts {
		files[k] = v
	}
	dir := testutil.WriteTree(t, files)
	names := []string{"h1", "thrower", "h2", "typed", "h3", "aborter", "h4", "looper", "h5", "gone"}
	var items []Item
	for _, n := range names {
		items = append(items, Host(n))
	}
	cr := newCounting()
	o := Options{Flake: dir, Dir: dir, Jobs: 2}
	res, err := Run(context.Background(), cr, items, o)
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]Result{}
	for i, n := range names {
		byName[n] = res[i]
	}
	for _, h := range []string{"h1", "h2", "h3", "h4", "h5"} {
		r := byName[h]
		if !r.OK() || !strings.HasSuffix(r.DrvPath, "-nixos-system-"+h+".drv") || !strings.HasSuffix(r.OutPath, "-nixos-system-"+h) {
			t.Errorf("%s: %+v", h, r)
		}
		if cr.started[h] != 1 || cr.alone[h] != 0 {
			t.Errorf("%s evaluated %d times together and %d alone, want once", h, cr.started[h], cr.alone[h])
		}
	}
	if !byName["gone"].Missing {
		t.Errorf("gone: %+v, want missing", byName["gone"])
	}
	// Each failure is the error its own evaluation gives, as before.
	want := map[string]string{
		"thrower": "The option services.openssh.port is used twice",
		"typed":   "hosts/typed.nix:4:10: cannot coerce an integer to a string",
		"aborter": "evaluation aborted: no bootloader",
		"looper":  "infinite recursion",
	}
	for h, w := range want {
		r := byName[h]
		if r.OK() || len(r.Errors) == 0 {
			t.Errorf("%s passed: %+v", h, r)
			continue
		}
		if !strings.Contains(r.Errors[0].String(), w) {
			t.Errorf("%s: error %q, want it to contain %q", h, r.Errors[0].String(), w)
		}
		if cr.alone[h] != 1 {
			t.Errorf("%s evaluated alone %d times, want 1", h, cr.alone[h])
		}
		single, serr := execx.NewReal().Run(context.Background(), aloneCmd(Host(h), o))
		if serr == nil {
			t.Fatalf("%s evaluates alone", h)
		}
		if got := nix.ParseErrors(single.Stderr, dir); !reflect.DeepEqual(got, r.Errors) {
			t.Errorf("%s: errors %+v differ from its own evaluation's %+v", h, r.Errors, got)
		}
	}
	// One process ends at each error tryEval cannot catch (3) and one more
	// finishes the chunk; each failure is evaluated alone (4).
	if cr.processes != 8 {
		t.Errorf("%d nix processes, want 8", cr.processes)
	}
}

func TestRealHostsAndProfilesAndValues(t *testing.T) {
	testutil.Require(t, "nix")
	dir := testutil.WriteTree(t, map[string]string{"flake.nix": `{
  outputs = { self }: let
    drv = name: derivation { inherit name; system = "x86_64-linux"; builder = "/bin/sh"; args = [ "-c" "echo > $out" ]; };
  in {
    nixosConfigurations."web.1" = { config.system.build.toplevel = drv "nixos-system-web"; config.sops.secrets.db.format = "yaml"; };
    homeConfigurations."gabriel@laptop".activationPackage = drv "home-manager-generation";
  };
}`})
	items := []Item{Host("web.1"), Profile("gabriel@laptop"), {Output: OutputNixOS, Attr: "web.1", Path: []string{"config", "sops", "secrets"}, Value: true}}
	var seen []int
	var mu sync.Mutex
	cr := newCounting()
	res, err := Run(context.Background(), cr, items, Options{Flake: dir, Dir: dir, Events: recordEvents{&mu, &seen}})
	if err != nil {
		t.Fatal(err)
	}
	if cr.processes != 1 {
		t.Errorf("%d nix processes for hosts and profiles, want 1", cr.processes)
	}
	if !strings.HasSuffix(res[0].DrvPath, "-nixos-system-web.drv") || !strings.HasSuffix(res[1].DrvPath, "-home-manager-generation.drv") {
		t.Errorf("results %+v", res)
	}
	if string(res[2].Value) != `{"db":{"format":"yaml"}}` {
		t.Errorf("value = %s", res[2].Value)
	}
	if len(seen) != 3 {
		t.Errorf("finished events for %v, want 3 items", seen)
	}
}

type recordEvents struct {
	mu   *sync.Mutex
	seen *[]int
}

func (recordEvents) Started(int) {}
func (r recordEvents) Finished(i int, _ Result) {
	r.mu.Lock()
	*r.seen = append(*r.seen, i)
	r.mu.Unlock()
}

func TestRealBrokenFlakeFailsEveryItemOnce(t *testing.T) {
	testutil.Require(t, "nix")
	dir := testutil.WriteTree(t, map[string]string{"flake.nix": "{\n  outputs = { self }: {\n    nixosConfigurations = { a = 1; b = 2;\n  };\n}\n"})
	cr := newCounting()
	res, err := Run(context.Background(), cr, []Item{Host("a"), Host("b")}, Options{Flake: dir, Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		if r.OK() || len(r.Errors) == 0 || r.Errors[0].File != "flake.nix" {
			t.Errorf("item %d: %+v", i, r)
		}
	}
	if cr.processes != 1 {
		t.Errorf("%d processes for a flake that does not parse, want 1", cr.processes)
	}
}

// sopsLike reads a configuration's declared files relative to the flake's
// root, as secrets check does.
const sopsLike = `root: v: let
  n = builtins.stringLength root;
  rel = p: let s = toString p; in builtins.substring (n + 1) (builtins.stringLength s) s;
in map rel (v.config.files or [ ])`

func TestRealWholeFlakeEvaluatesHostsAndProfilesInOneProcess(t *testing.T) {
	testutil.Require(t, "nix")
	files := map[string]string{"flake.nix": `{
  outputs = { self }: {
    nixosConfigurations = {
      h1.config.files = [ ./secrets/h1.yaml ];
      thrower.config.files = import ./hosts/thrower.nix;
      typed.config.files = import ./hosts/typed.nix;
      h2.config = { };
      aborter.config.files = import ./hosts/aborter.nix;
    };
    homeConfigurations.laptop.config.files = [ ./secrets/laptop.yaml ./secrets/b.yaml ];
  };
}
`, "secrets/h1.yaml": "x: 1\n", "secrets/laptop.yaml": "x: 1\n", "secrets/b.yaml": "x: 1\n"}
	for k, v := range brokenHosts {
		files[k] = v
	}
	dir := testutil.WriteTree(t, files)
	hosts := []string{"h1", "thrower", "typed", "h2", "aborter", "gone"}
	var items []Item
	for _, h := range hosts {
		items = append(items, Item{Output: OutputNixOS, Attr: h, Apply: sopsLike})
	}
	items = append(items, Item{Output: OutputHome, Attr: "laptop", Apply: sopsLike}, Item{Output: OutputHome, Attr: "nobody", Apply: sopsLike})
	cr := newCounting()
	o := Options{Flake: dir, Dir: dir, Jobs: 2, WholeFlake: true}
	res, err := Run(context.Background(), cr, items, o)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range map[int]string{0: `["secrets/h1.yaml"]`, 3: `[]`, 6: `["secrets/laptop.yaml","secrets/b.yaml"]`} {
		if !res[i].OK() || string(res[i].Value) != want {
			t.Errorf("item %d (%s): %+v, value %s, want %s", i, items[i], res[i], res[i].Value, want)
		}
	}
	if !res[5].Missing || !res[7].Missing {
		t.Errorf("gone, nobody: %+v %+v, want missing", res[5], res[7])
	}
	for i, want := range map[int]string{1: "The option services.openssh.port is used twice", 2: "hosts/typed.nix:4:10: cannot coerce an integer to a string", 4: "evaluation aborted: no bootloader"} {
		if res[i].OK() || len(res[i].Errors) == 0 || !strings.Contains(res[i].Errors[0].String(), want) {
			t.Errorf("item %d (%s): %+v, want an error containing %q", i, items[i], res[i], want)
		}
		if cr.alone[hosts[i]] != 1 {
			t.Errorf("%s evaluated alone %d times, want 1", hosts[i], cr.alone[hosts[i]])
		}
	}
	for _, h := range []string{"h1", "h2", "laptop"} {
		if cr.started[h] != 1 || cr.alone[h] != 0 {
			t.Errorf("%s evaluated %d times together and %d alone, want once", h, cr.started[h], cr.alone[h])
		}
	}
	// Hosts and profiles share each process: the first ends at the type
	// error, the second at the abort, the third finishes; three alone.
	if cr.processes != 6 {
		t.Errorf("%d nix processes, want 6", cr.processes)
	}
}

func TestRealOutputsTogetherFallBackPerOutput(t *testing.T) {
	testutil.Require(t, "nix")
	drv := `drv = name: derivation { inherit name; system = "x86_64-linux"; builder = "/bin/sh"; args = [ "-c" "echo > $out" ]; };`
	for _, tc := range []struct {
		name      string
		outputs   string
		processes int
		profile   string // the profile's error, "" if it evaluates
	}{
		// nix tries packages.<system> before the outputs: the expression
		// says so and each output is evaluated on its own.
		{"packages from another file", `homeConfigurations.p.activationPackage = drv "home-manager-generation";
  } // import ./more.nix drv // {`, 3, ""},
		// A flake.nix that names packages is not tried together.
		{"packages", `packages.x86_64-linux.default = drv "pkg";
    homeConfigurations.p.activationPackage = drv "home-manager-generation";`, 2, ""},
		// An output that throws ends the process before any item; its
		// trace says which: its items take the error, the others are
		// evaluated again without it.
		{"throwing output", `homeConfigurations = throw "no home here";`, 2, "no home here"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := testutil.WriteTree(t, map[string]string{"flake.nix": `{
  outputs = { self }: let
    ` + drv + `
  in {
    nixosConfigurations.h.config.system.build.toplevel = drv "nixos-system-h";
    ` + tc.outputs + `
  };
}`, "more.nix": "drv: { packages.x86_64-linux.default = drv \"pkg\"; }\n"})
			cr := newCounting()
			res, err := Run(context.Background(), cr, []Item{Host("h"), Profile("p")}, Options{Flake: dir, Dir: dir, Jobs: 2})
			if err != nil {
				t.Fatal(err)
			}
			if !res[0].OK() || !strings.HasSuffix(res[0].DrvPath, "-nixos-system-h.drv") || cr.started["h"] != 1 {
				t.Errorf("host: %+v, started %d times", res[0], cr.started["h"])
			}
			if tc.profile == "" && (!res[1].OK() || !strings.HasSuffix(res[1].DrvPath, "-home-manager-generation.drv")) {
				t.Errorf("profile: %+v", res[1])
			}
			if tc.profile != "" && (res[1].OK() || len(res[1].Errors) == 0 || !strings.Contains(res[1].Errors[0].Message, tc.profile)) {
				t.Errorf("profile: %+v, want the error %q", res[1], tc.profile)
			}
			if cr.processes != tc.processes {
				t.Errorf("%d nix processes, want %d", cr.processes, tc.processes)
			}
		})
	}
}

// rootElsewhere runs nix as one that reads 'flake#""' as an attribute named
// "" (as Lix does) would: the real nix, asked for 'flake#"".""'.
type rootElsewhere struct{ *countingRunner }

func (r rootElsewhere) Run(ctx context.Context, c execx.Cmd) (*execx.Result, error) {
	argv := append([]string(nil), c.Argv...)
	for i, a := range argv {
		if strings.HasSuffix(a, `#""`) {
			argv[i] = a + `.""`
		}
	}
	c.Argv = argv
	return r.countingRunner.Run(ctx, c)
}

func TestRealOutputsNotReadTogetherAreEvaluatedApart(t *testing.T) {
	testutil.Require(t, "nix")
	dir := testutil.WriteTree(t, map[string]string{"flake.nix": `{
  outputs = { self }: let
    drv = name: derivation { inherit name; system = "x86_64-linux"; builder = "/bin/sh"; args = [ "-c" "echo > $out" ]; };
  in {
    nixosConfigurations.h.config.system.build.toplevel = drv "nixos-system-h";
    homeConfigurations.p.activationPackage = drv "home-manager-generation";
  };
}`})
	cr := newCounting()
	res, err := Run(context.Background(), rootElsewhere{cr}, []Item{Host("h"), Profile("p")}, Options{Flake: dir, Dir: dir, Jobs: 2})
	if err != nil {
		t.Fatal(err)
	}
	if !res[0].OK() || !strings.HasSuffix(res[0].DrvPath, "-nixos-system-h.drv") || !res[1].OK() || !strings.HasSuffix(res[1].DrvPath, "-home-manager-generation.drv") {
		t.Errorf("results %+v", res)
	}
	if cr.processes != 3 || cr.started["h"] != 1 || cr.started["p"] != 1 {
		t.Errorf("%d processes, h started %d, p %d times; want 3, once each", cr.processes, cr.started["h"], cr.started["p"])
	}
}

// lockRunner runs nix for real and notes when each process started and
// ended, and whether it could write flake.lock.
type lockRunner struct {
	execx.Runner
	mu    sync.Mutex
	procs []lockProc
}

type lockProc struct {
	start, end time.Time
	writes     bool
}

func (l *lockRunner) Run(ctx context.Context, c execx.Cmd) (*execx.Result, error) {
	start := time.Now()
	res, err := l.Runner.Run(ctx, c)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.procs = append(l.procs, lockProc{start, time.Now(), !slices.Contains(c.Argv, nix.NoWriteLockFile)})
	return res, err
}

// A flake in a git repository with no flake.lock yet, evaluated by several
// nix processes at once: each that locks it writes the file and runs git
// add on it, and two git adds at once fail on .git/index.lock; one reading
// it while another writes it reads it half written. One process writes it
// and the others start once it is written: every round succeeds, and the
// lock is written and tracked as nix alone would leave it.
func TestRealConcurrentProcessesLeaveTheLockToOne(t *testing.T) {
	testutil.Require(t, "nix", "git")
	dep := testutil.WriteTree(t, map[string]string{"flake.nix": "{ outputs = { self }: { v = \"ok\"; }; }\n"})
	flake := `{
  inputs.dep.url = "path:` + dep + `";
  outputs = { self, dep }: let
    mk = name: { config.system.build.toplevel = derivation { name = "nixos-system-${name}"; system = "x86_64-linux"; builder = "/bin/sh"; args = [ "-c" "echo ${dep.v} > $out" ]; }; };
  in { nixosConfigurations = { a = mk "a"; b = mk "b"; c = mk "c"; d = mk "d"; e = mk "e"; f = mk "f"; }; };
}
`
	dir := testutil.WriteTree(t, map[string]string{"flake.nix": flake})
	git := func(args ...string) string {
		t.Helper()
		out, err := exec.Command("git", append([]string{"-C", dir}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	git("init", "--quiet")
	git("add", "flake.nix")
	items := []Item{Host("a"), Host("b"), Host("c"), Host("d"), Host("e"), Host("f")}
	o := Options{Flake: dir, Dir: dir, Jobs: len(items), ChunkSize: 1}
	writers := 0
	for _, c := range Plan(items, o) {
		if !slices.Contains(c.Argv, nix.NoWriteLockFile) {
			writers++
		}
	}
	if writers != 1 {
		t.Fatalf("%d of the first round's processes may write flake.lock, want 1", writers)
	}
	for round := range 6 {
		if round > 0 {
			git("rm", "--cached", "--quiet", "flake.lock")
			if err := os.Remove(filepath.Join(dir, "flake.lock")); err != nil {
				t.Fatal(err)
			}
		}
		lr := &lockRunner{Runner: execx.NewReal()}
		res, err := Run(context.Background(), lr, items, o)
		if err != nil {
			t.Fatal(err)
		}
		// The first process to start locks the flake and writes the
		// lock; none runs beside it, and none runs beside another that
		// could write it.
		sort.Slice(lr.procs, func(i, j int) bool { return lr.procs[i].start.Before(lr.procs[j].start) })
		if len(lr.procs) != len(items) || !lr.procs[0].writes {
			t.Fatalf("round %d: %d processes, the first one writing the lock: %v", round, len(lr.procs), lr.procs[0].writes)
		}
		for i, p := range lr.procs {
			for _, q := range lr.procs[i+1:] {
				if (p.writes || q.writes) && q.start.Before(p.end) {
					t.Fatalf("round %d: two processes ran at once and one of them could write flake.lock", round)
				}
			}
		}
		for i, r := range res {
			if !r.OK() {
				t.Fatalf("round %d: %s: %+v", round, items[i].Attr, r.Errors)
			}
		}
		if !strings.Contains(git("ls-files"), "flake.lock") {
			t.Fatalf("round %d: flake.lock is not tracked after the evaluation", round)
		}
	}
}
