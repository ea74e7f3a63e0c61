package cli

import (
	"context"
	"os"
	"os/exec"
	"slices"
	"strings"

	"github.com/nixctl/nixctl/internal/app"
	"github.com/nixctl/nixctl/internal/execx"
	"github.com/nixctl/nixctl/internal/ui"
)

func execLookPath(name string) (string, error) { return exec.LookPath(name) }

// read are the variables nixctl reads: an in-process run sees them only as
// its test sets them, never as the machine running the tests has them.
var read = []string{"USER", "XDG_STATE_HOME", "XDG_CONFIG_HOME", "XDG_RUNTIME_DIR", "VISUAL", "EDITOR",
	"SSH_AUTH_SOCK", "NIX_SSHOPTS", "NO_COLOR", "TERM", "GITHUB_ACTIONS"}

// testEnv is the environment of an in-process run: this process's (PATH,
// HOME and what the tools nixctl starts need), without any variable nixctl
// reads, then vars.
func testEnv(vars map[string]string) app.Env {
	var environ []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "NIXCTL_") || strings.HasPrefix(name, "SOPS_") || slices.Contains(read, name) {
			continue
		}
		environ = append(environ, kv)
	}
	for k, v := range vars {
		environ = append(environ, k+"="+v)
	}
	return app.NewEnv(environ)
}

// testDeps are the Deps of an in-process run in dir, in testEnv(vars), with
// runner (nil: the real one).
func testDeps(dir string, vars map[string]string, runner execx.Runner, stdio ui.Stdio) *app.Deps {
	return app.New(app.Parts{Runner: runner, Env: testEnv(vars), Cwd: dir, Stdio: stdio, Version: "test"})
}

// runDeps runs nixctl with deps and args.
func runDeps(deps *app.Deps, args ...string) int {
	return run(context.Background(), deps, args)
}
