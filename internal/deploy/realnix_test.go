package deploy

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nixctl/nixctl/internal/execx"
	"github.com/nixctl/nixctl/internal/fault"
	"github.com/nixctl/nixctl/internal/nix"
	"github.com/nixctl/nixctl/internal/testutil"
)

// byProgram sends nix to the real runner and everything else to a recorder.
type byProgram struct {
	real execx.Runner
	rec  *execx.Recorder
}

func (b byProgram) Run(ctx context.Context, c execx.Cmd) (*execx.Result, error) {
	if c.Argv[0] == "nix" {
		return b.real.Run(ctx, c)
	}
	return b.rec.Run(ctx, c)
}

func (b byProgram) LookPath(name string) (string, error) { return b.real.LookPath(name) }

// flakeEvaluates is what nixos-rebuild --flake finds when it evaluates the
// flake in dir again: the host's toplevel, by real nix.
func flakeEvaluates(t *testing.T, dir string) func(name string) string {
	return func(name string) string {
		argv := nix.Nix("eval", "--raw", nix.Installable(dir, append(nix.ToplevelAttr(name), "outPath")...))
		out, err := exec.Command(argv[0], argv[1:]...).Output()
		if err != nil {
			t.Errorf("evaluating %s: %v", name, err)
			return ""
		}
		return strings.TrimSpace(string(out))
	}
}

const twoSystemsFlake = `{
  outputs = _: let
    sys = name: script: {
      config.system.build.toplevel = derivation {
        inherit name;
        system = "SYSTEM";
        builder = "/bin/sh";
        args = [ "-c" script ];
      };
    };
  in {
    nixosConfigurations.good = sys "nixos-system-good" "echo building good; /bin/mkdir $out";
    nixosConfigurations.bad = sys "nixos-system-bad" "echo compiling the kernel; echo boom >&2; exit 1";
  };
}
`

// TestRealNixBuildFailureIsAttributed builds two systems with real nix in
// one invocation; one builder fails. The failing host is named with nix's
// message, its log file has the builder's output in readable lines, and the
// other host is activated.
func TestRealNixBuildFailureIsAttributed(t *testing.T) {
	testutil.Require(t, "nix")
	dir := testutil.WriteTree(t, map[string]string{"flake.nix": strings.ReplaceAll(twoSystemsFlake, "SYSTEM", nix.System())})
	f := fakeFleet(t, "hosts:\n  - {name: good, address: 10.0.0.1}\n  - {name: bad, address: 10.0.0.2}\n")
	f.Flake, f.Dir = dir, dir
	n := fakeNet{"10.0.0.1": &fakeHost{generation: 3}, "10.0.0.2": &fakeHost{generation: 3}}
	rec := &execx.Recorder{}
	rec.Register([]string{"nixos-rebuild", "switch", "--flake", dir + "#good"}, "", 0)
	p, err := NewPlan(f, f.Hosts, Options{Action: "switch", NoCheck: true, Flavour: nix.FlavourBash}, routesIn(t, t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	logs := t.TempDir()
	rep := Run(context.Background(), Env{Runner: activating{byProgram{execx.NewReal(), rec}, n, flakeEvaluates(t, dir)}, Hosts: n, Events: &events{}, Fleet: f, LogDir: logs, RunID: "r"}, p)
	rec.Verify(t)
	good, bad := result(t, rep, "good"), result(t, rep, "bad")
	if !good.OK() {
		t.Errorf("good: %+v", good)
	}
	if bad.Result != ResultFailed || bad.Stage != StageBuild || !strings.Contains(bad.Error, "builder for '/nix/store/") || !strings.Contains(bad.Error, "nixos-system-bad.drv' failed") {
		t.Errorf("bad: %+v", bad)
	}
	if rep.Kind() != fault.Partial {
		t.Errorf("kind %v", rep.Kind())
	}
	log, err := os.ReadFile(filepath.Join(logs, "bad.log"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(log), "compiling the kernel\n") || !strings.Contains(string(log), "boom\n") || strings.Contains(string(log), "@nix {") {
		t.Errorf("bad.log should have the builder's output as plain lines:\n%s", log)
	}
}
