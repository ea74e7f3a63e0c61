package hostops

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/nixctl/nixctl/internal/execx"
)

// The scripts nixctl runs on hosts. Each one is sent whole as the argument
// of sh -c and gets its values as positional arguments, ROOT first, so
// nothing from the inventory or a flag is ever spliced into script text.
//
//go:embed scripts/*.sh
var scriptFS embed.FS

// Names of the scripts, without the .sh.
const (
	scriptPreflight        = "preflight"
	scriptLockAcquire      = "deploy-lock-acquire"
	scriptLockRelease      = "deploy-lock-release"
	scriptGeneration       = "system-generation"
	scriptSwitchGeneration = "system-switch-generation"
	scriptReactivate       = "system-reactivate"
	scriptStatus           = "status"
	scriptHomeClobbers     = "home-clobbers"
	scriptHomeGenerations  = "home-generations"
	scriptHomeActivate     = "home-activate"
	scriptWatchdog         = "watchdog"
	scriptClosureDiff      = "closure-diff"
	scriptKubeconfigRead   = "kubeconfig-read"
)

// Script is one host script's text.
func Script(name string) (string, error) {
	b, err := scriptFS.ReadFile(path.Join("scripts", name+".sh"))
	if err != nil {
		return "", fmt.Errorf("no host script %q: %w", name, err)
	}
	return string(b), nil
}

// ScriptNames lists every embedded script.
func ScriptNames() []string {
	entries, _ := fs.ReadDir(scriptFS, "scripts")
	var names []string
	for _, e := range entries {
		if n, ok := strings.CutSuffix(e.Name(), ".sh"); ok {
			names = append(names, n)
		}
	}
	return names
}

// CommandLine is the remote command line that runs script name with root
// and args, through sudo -n when sudo is set: the script goes to sh -c as
// one quoted word, its $0 names it (nixctl-NAME, as ps shows it on the
// host), and every argument is a quoted word of its own.
func CommandLine(name string, sudo bool, root string, args ...string) (string, error) {
	text, err := Script(name)
	if err != nil {
		return "", err
	}
	if err := checkArgs(name, root, args); err != nil {
		return "", err
	}
	line := execx.Quote(append([]string{"sh", "-c", text, "nixctl-" + name, root}, args...))
	if sudo {
		line = "sudo -n " + line
	}
	return line, nil
}

// boolArg is a yes/no argument as the scripts read it: 1 or 0.
func boolArg(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// checkArgs refuses what cannot pass as one argument of a script.
func checkArgs(name, root string, args []string) error {
	for _, w := range append([]string{root}, args...) {
		if strings.ContainsAny(w, "\x00\n") {
			return fmt.Errorf("host script %s: argument %q holds a newline or NUL", name, w)
		}
	}
	return nil
}

// ScriptError is a host script that exited non-zero with a code the caller
// has no typed error for.
type ScriptError struct {
	Host       string
	Script     string
	ExitCode   int
	StderrTail string
}

func (e *ScriptError) Error() string {
	msg := fmt.Sprintf("on %s: %s exited with code %d", e.Host, e.Script, e.ExitCode)
	if l := execx.LastLine(e.StderrTail); l != "" {
		msg += ": " + l
	}
	return msg
}
