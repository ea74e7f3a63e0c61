package app

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/nixctl/nixctl/internal/execx"
)

func TestNewEnvTypesWhatNixctlReads(t *testing.T) {
	t.Parallel()
	e := NewEnv([]string{
		"USER=gabriel", "HOME=/home/g", "XDG_STATE_HOME=/s", "XDG_CONFIG_HOME=/c", "XDG_RUNTIME_DIR=/r", "TMPDIR=/t",
		"VISUAL=code --wait", "EDITOR=vi", "SSH_AUTH_SOCK=/a.sock", "NIX_SSHOPTS=-p 2222", "NO_COLOR=1", "TERM=dumb",
		"GITHUB_ACTIONS=true", "SOPS_AGE_KEY=AGE-SECRET-KEY-1", "SOPS_AGE_KEY_FILE=/k.txt", "SOPS_AGE_KEY_CMD=pass age",
		"SOPS_AGE_SSH_PRIVATE_KEY_FILE=/id", "SOPS_AGE_SSH_PRIVATE_KEY_CMD=cat /id",
		"NIXCTL_YES=1", "NIXCTL_FLAKE=/fleet", "OTHER=x=y", "malformed", "=nameless",
		"EDITOR=nano",
	})
	want := Env{
		User: "gabriel", Home: "/home/g", StateHome: "/s", ConfigHome: "/c", RuntimeDir: "/r", TempDir: "/t",
		Visual: "code --wait", Editor: "nano", SSHAuthSock: "/a.sock", NixSSHOpts: "-p 2222", NoColor: true, Term: "dumb",
		GitHubActions: true, AgeKey: "AGE-SECRET-KEY-1", AgeKeyFile: "/k.txt", AgeKeyCmd: "pass age",
		AgeSSHKeyFile: "/id", AgeSSHKeyCmd: "cat /id",
	}
	got := e
	got.Settings, got.vars = nil, nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("NewEnv:\n got %+v\nwant %+v", got, want)
	}
	if len(e.Settings) != 2 || e.Settings["NIXCTL_YES"] != "1" || e.Settings["NIXCTL_FLAKE"] != "/fleet" {
		t.Errorf("Settings = %v", e.Settings)
	}
	if v, ok := e.Lookup("OTHER"); !ok || v != "x=y" {
		t.Errorf("Lookup(OTHER) = %q, %v", v, ok)
	}
	if _, ok := e.Lookup("MISSING"); ok {
		t.Error("Lookup found an unset variable")
	}
	env := e.Environ()
	if !slices.Contains(env, "EDITOR=nano") || slices.Contains(env, "EDITOR=vi") || !slices.Contains(env, "OTHER=x=y") || len(env) != 21 {
		t.Errorf("Environ() = %q", env)
	}
}

func TestEnvEmptyOrUnset(t *testing.T) {
	t.Parallel()
	e := NewEnv([]string{"NO_COLOR=", "GITHUB_ACTIONS=1"})
	if e.NoColor || e.GitHubActions || e.TempDir != "/tmp" {
		t.Errorf("NO_COLOR empty or GITHUB_ACTIONS other than true: %+v", e)
	}
	if v, ok := e.Lookup("NO_COLOR"); !ok || v != "" {
		t.Errorf("an empty variable is still set: %q, %v", v, ok)
	}
	if NewEnv(nil).Environ() == nil {
		t.Error("an empty environment must stay empty for children, not become the process's")
	}
}

// The real runner New builds runs children in the run's environment, and
// finds commands in its PATH, not the test process's.
func TestNewRunsChildrenInTheRunsEnvironment(t *testing.T) {
	t.Parallel()
	bin := t.TempDir()
	if err := os.WriteFile(filepath.Join(bin, "where"), []byte("#!/bin/sh\necho \"$NIXCTL_CONFIG\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	d := New(Parts{Env: NewEnv([]string{"PATH=" + bin, "NIXCTL_CONFIG=/fleet/nixctl.yaml"}), Cwd: bin})
	if p, err := d.Runner().LookPath("where"); err != nil || p != filepath.Join(bin, "where") {
		t.Fatalf("LookPath = %q, %v", p, err)
	}
	res, err := d.Runner().Run(t.Context(), execx.Cmd{Argv: []string{"where"}})
	if err != nil || strings.TrimSpace(string(res.Stdout)) != "/fleet/nixctl.yaml" {
		t.Errorf("child: %v %q", err, res.Stdout)
	}
}
