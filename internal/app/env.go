package app

import (
	"cmp"
	"sort"
	"strings"

	"github.com/nixctl/nixctl/internal/config"
	"github.com/nixctl/nixctl/internal/ui"
)

// Env is the environment nixctl runs in, read once by the entry point: the
// variables nixctl acts on, typed, and the whole environment for the child
// processes it starts. Nothing else in nixctl reads the process
// environment, so a test hands a run its own environment.
type Env struct {
	// User is $USER; Deps.UserName decides whether to believe it.
	User string
	Home string
	// StateHome, ConfigHome and RuntimeDir are $XDG_STATE_HOME,
	// $XDG_CONFIG_HOME and $XDG_RUNTIME_DIR ("" when unset).
	StateHome  string
	ConfigHome string
	RuntimeDir string
	// TempDir is $TMPDIR, else /tmp, as os.TempDir says on Unix.
	TempDir string
	// Visual and Editor are $VISUAL and $EDITOR, command lines.
	Visual string
	Editor string
	// SSHAuthSock is the ssh agent's socket ($SSH_AUTH_SOCK).
	SSHAuthSock string
	// NixSSHOpts is $NIX_SSHOPTS, options nix tools give ssh.
	NixSSHOpts string
	// NoColor is true when $NO_COLOR is set to anything but "".
	NoColor bool
	Term    string
	// GitHubActions is true inside a GitHub Actions job.
	GitHubActions bool
	// The places sops finds age keys in: SOPS_AGE_KEY, SOPS_AGE_KEY_FILE,
	// SOPS_AGE_KEY_CMD, SOPS_AGE_SSH_PRIVATE_KEY_FILE and _CMD.
	AgeKey        string
	AgeKeyFile    string
	AgeKeyCmd     string
	AgeSSHKeyFile string
	AgeSSHKeyCmd  string
	// Settings are the NIXCTL_* variables, by their full name.
	Settings map[string]string

	vars map[string]string
}

// NewEnv reads environ, a list of NAME=value as os.Environ returns it; a
// name given twice keeps its last value, as exec.Cmd does.
func NewEnv(environ []string) Env {
	vars := make(map[string]string, len(environ))
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && k != "" {
			vars[k] = v
		}
	}
	e := Env{
		User:          vars["USER"],
		Home:          vars["HOME"],
		StateHome:     vars["XDG_STATE_HOME"],
		ConfigHome:    vars["XDG_CONFIG_HOME"],
		RuntimeDir:    vars["XDG_RUNTIME_DIR"],
		TempDir:       cmp.Or(vars["TMPDIR"], "/tmp"),
		Visual:        vars["VISUAL"],
		Editor:        vars["EDITOR"],
		SSHAuthSock:   vars["SSH_AUTH_SOCK"],
		NixSSHOpts:    vars["NIX_SSHOPTS"],
		NoColor:       vars["NO_COLOR"] != "",
		Term:          vars["TERM"],
		GitHubActions: vars["GITHUB_ACTIONS"] == "true",
		AgeKey:        vars["SOPS_AGE_KEY"],
		AgeKeyFile:    vars["SOPS_AGE_KEY_FILE"],
		AgeKeyCmd:     vars["SOPS_AGE_KEY_CMD"],
		AgeSSHKeyFile: vars["SOPS_AGE_SSH_PRIVATE_KEY_FILE"],
		AgeSSHKeyCmd:  vars["SOPS_AGE_SSH_PRIVATE_KEY_CMD"],
		Settings:      map[string]string{},
		vars:          vars,
	}
	for k, v := range vars {
		if strings.HasPrefix(k, config.EnvPrefix+"_") {
			e.Settings[k] = v
		}
	}
	return e
}

// Lookup is one variable by name, for what names a variable at run time:
// ssh_config's IdentityAgent $VAR, say.
func (e Env) Lookup(name string) (string, bool) {
	v, ok := e.vars[name]
	return v, ok
}

// Environ is the environment of the processes nixctl starts, sorted.
func (e Env) Environ() []string {
	out := make([]string, 0, len(e.vars))
	for k, v := range e.vars {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// Terminal is what ui needs to decide on colour.
func (e Env) Terminal() ui.Terminal {
	return ui.Terminal{NoColor: e.NoColor, Term: e.Term}
}
