// Package fakecmd is a stand-in for the tools nixctl cannot run here
// (nixos-rebuild activating a real NixOS, home-manager). A test registers it
// under the tool's name (testscript commands, or a copy of the test binary on
// PATH); it records every invocation and answers from a small YAML table.
//
// The table is $NIXCTL_FAKE_DIR/<name>.yaml:
//
//	responses:
//	  - args: ["switch", "--flake"]   # argv prefix after the program name; [] matches all
//	    contains: "#web-1"            # optional: some argument must contain this
//	    stdout: "…"
//	    stderr: "…"
//	    exit: 0
//	    sleep: 200ms                  # optional delay before answering
//	    hang: false                   # block until killed
//	    spawn: false                  # with hang: start a child that hangs too
//	                                  # (nixos-rebuild's nix and ssh children)
//	    homeManager: false            # answer as home-manager does, with the
//	                                  # real nix: build, then activate
//	    activate: false               # nixos-rebuild switch|test|boot: make the
//	                                  # target run the system (see rebuildActivate)
//	flavour: bash                     # nixos-rebuild: parse the arguments as
//	                                  # the bash script or ng does, and refuse
//	                                  # what it does not know as it does
//
// The first matching response answers. Each call appends one JSON line to
// $NIXCTL_FAKE_DIR/<name>.log: {"argv":[…],"env":{…},"start":…,"end":…}.
package fakecmd

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// DirEnv names the directory holding tables and logs.
const DirEnv = "NIXCTL_FAKE_DIR"

// Response is one row of the table.
type Response struct {
	Args     []string `yaml:"args"`
	Contains string   `yaml:"contains"`
	Stdout   string   `yaml:"stdout"`
	Stderr   string   `yaml:"stderr"`
	Exit     int      `yaml:"exit"`
	Sleep    string   `yaml:"sleep"`
	Hang     bool     `yaml:"hang"`
	Spawn    bool     `yaml:"spawn"`
	// HomeManager makes the fake do what home-manager switch and build do
	// (see homeManager) instead of printing Stdout and Stderr.
	HomeManager bool `yaml:"homeManager"`
	// Activate, after Stdout and Stderr, makes the target run the system
	// as nixos-rebuild's last step does (see rebuildActivate).
	Activate bool `yaml:"activate"`
}

// Table is a fake's whole behaviour.
type Table struct {
	// Flavour (nixos-rebuild: bash or ng) refuses unknown arguments as that
	// nixos-rebuild does, before any response; "" takes any argument.
	Flavour   string     `yaml:"flavour"`
	Responses []Response `yaml:"responses"`
}

// Call is one recorded invocation.
type Call struct {
	Argv []string          `json:"argv"`
	Env  map[string]string `json:"env"`
	Pid  int               `json:"pid"`
	// Children are the pids of processes the fake started (spawn).
	Children []int     `json:"children,omitempty"`
	Start    time.Time `json:"start"`
	End      time.Time `json:"end"`
}

// recordedEnv are the variables worth asserting on.
var recordedEnv = []string{"NIX_SSHOPTS", "USER", "HOME", "NIXCTL_HOST", "NIX_REMOTE", "XDG_STATE_HOME"}

// Run behaves as the fake called name with args and returns its exit code.
func Run(name string, args []string) int {
	dir := os.Getenv(DirEnv)
	if dir == "" {
		fmt.Fprintf(os.Stderr, "fake %s: %s is not set\n", name, DirEnv)
		return 127
	}
	call := Call{Argv: append([]string{name}, args...), Env: map[string]string{}, Pid: os.Getpid(), Start: time.Now()}
	for _, k := range recordedEnv {
		if v, ok := os.LookupEnv(k); ok {
			call.Env[k] = v
		}
	}
	var table Table
	data, err := os.ReadFile(filepath.Join(dir, name+".yaml"))
	if err != nil && !os.IsNotExist(err) {
		fmt.Fprintf(os.Stderr, "fake %s: %v\n", name, err)
		return 127
	}
	if err := yaml.Unmarshal(data, &table); err != nil {
		fmt.Fprintf(os.Stderr, "fake %s: bad table: %v\n", name, err)
		return 127
	}
	if table.Flavour != "" {
		if exit, stderr, ok := refuseRebuildArgs(table.Flavour, args); !ok {
			fmt.Fprint(os.Stderr, stderr)
			call.End = time.Now()
			record(dir, name, call)
			return exit
		}
	}
	resp := match(table, args)
	if resp.Spawn {
		child := exec.Command("sleep", "3600")
		if err := child.Start(); err != nil {
			fmt.Fprintf(os.Stderr, "fake %s: %v\n", name, err)
			return 127
		}
		call.Children = append(call.Children, child.Process.Pid)
	}
	// Record the start now, so a killed (hung) fake still shows it ran.
	record(dir, name, call)
	if resp.Sleep != "" {
		if d, err := time.ParseDuration(resp.Sleep); err == nil {
			time.Sleep(d)
		}
	}
	if resp.Hang {
		for {
			time.Sleep(time.Hour)
		}
	}
	exit := resp.Exit
	if resp.HomeManager {
		exit = homeManager(args)
	} else {
		fmt.Fprint(os.Stdout, resp.Stdout)
		fmt.Fprint(os.Stderr, resp.Stderr)
		if resp.Activate && exit == 0 {
			exit = rebuildActivate(args)
		}
	}
	call.End = time.Now()
	record(dir, name, call)
	return exit
}

func match(t Table, args []string) Response {
	for _, r := range t.Responses {
		if !hasPrefix(args, r.Args) {
			continue
		}
		if r.Contains != "" && !strings.Contains(strings.Join(args, " "), r.Contains) {
			continue
		}
		return r
	}
	return Response{}
}

func hasPrefix(args, prefix []string) bool {
	if len(prefix) > len(args) {
		return false
	}
	for i := range prefix {
		if args[i] != prefix[i] {
			return false
		}
	}
	return true
}

func record(dir, name string, c Call) {
	f, err := os.OpenFile(filepath.Join(dir, name+".log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return
	}
	defer f.Close()
	line, _ := json.Marshal(c)
	_, _ = f.Write(append(line, '\n'))
}

// Calls reads the recorded invocations of name in dir. A call that started
// but never finished (killed) has a zero End.
func Calls(dir, name string) ([]Call, error) {
	data, err := os.ReadFile(filepath.Join(dir, name+".log"))
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var calls []Call
	byPid := map[int]int{}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if line == "" {
			continue
		}
		var c Call
		if err := json.Unmarshal([]byte(line), &c); err != nil {
			return nil, err
		}
		if i, ok := byPid[c.Pid]; ok && !c.End.IsZero() {
			calls[i] = c
			continue
		}
		byPid[c.Pid] = len(calls)
		calls = append(calls, c)
	}
	return calls, nil
}
