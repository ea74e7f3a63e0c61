package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/nixctl/nixctl/internal/testutil"
	"github.com/nixctl/nixctl/internal/testutil/fakecmd"
	"github.com/nixctl/nixctl/internal/ui"
)

// Programs the scripts can run: nixctl itself (this test binary) and fakes
// for the tools that cannot really run here. Each fake records its argv and
// answers from $NIXCTL_FAKE_DIR/<name>.yaml (see package fakecmd).
var scriptCommands = map[string]func() int{
	"nixctl": func() int {
		return Main(context.Background(), os.Args[1:], ui.Stdio{In: os.Stdin, Out: os.Stdout, Err: os.Stderr})
	},
	"nixos-rebuild": func() int { return fakecmd.Run("nixos-rebuild", os.Args[1:]) },
	"home-manager":  func() int { return fakecmd.Run("home-manager", os.Args[1:]) },
}

func TestMain(m *testing.M) {
	testscript.Main(m, toMainFuncs(scriptCommands))
}

func toMainFuncs(cmds map[string]func() int) map[string]func() {
	out := map[string]func(){}
	for name, f := range cmds {
		out[name] = func() { os.Exit(f()) }
	}
	return out
}

// TestScripts runs internal/cli/testdata/script/*.txtar. A script that
// needs a real program starts with `[!real:nix] skip`: it skips locally
// without nix and fails in CI (CI=true).
func TestScripts(t *testing.T) {
	root := testutil.RepoRoot(t)
	testscript.Run(t, testscript.Params{
		Dir: filepath.Join("testdata", "script"),
		Setup: func(env *testscript.Env) error {
			work := env.WorkDir
			env.Setenv("HOME", filepath.Join(work, "home"))
			env.Setenv("XDG_STATE_HOME", filepath.Join(work, "home", ".local", "state"))
			env.Setenv("XDG_CONFIG_HOME", filepath.Join(work, "home", ".config"))
			env.Setenv(fakecmd.DirEnv, filepath.Join(work, "fake"))
			env.Setenv("NO_COLOR", "1")
			env.Setenv("CI", os.Getenv("CI"))
			env.Setenv("REPO", root)
			if err := os.MkdirAll(filepath.Join(work, "fake"), 0o755); err != nil {
				return err
			}
			return os.MkdirAll(filepath.Join(work, "home"), 0o755)
		},
		// [real:PROG] is true when PROG is on PATH; in CI a missing
		// program is an error, so `[!real:nix] skip` never skips there.
		Condition: func(cond string) (bool, error) {
			prog, ok := strings.CutPrefix(cond, "real:")
			if !ok {
				return false, fmt.Errorf("unknown condition %q", cond)
			}
			if _, err := execLookPath(prog); err != nil {
				if os.Getenv("CI") == "true" {
					return false, fmt.Errorf("%s is required in CI but not on PATH: .ci/run must install it", prog)
				}
				return false, nil
			}
			return true, nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			// cpdemo DIR: copy the demo fleet (nix/demo) into DIR.
			"cpdemo": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 1 {
					ts.Fatalf("usage: cpdemo DIR")
				}
				ts.Check(testutil.CopyTree(filepath.Join(root, "nix", "demo"), ts.MkAbs(args[0])))
			},
		},
	})
}
