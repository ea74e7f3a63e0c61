// Package hostops is every operation nixctl performs on a host, as typed Go
// methods: the deploy lock and the home-activation lock, status and
// generations, activation and rollback, the record of the last deploy. Each
// operation runs one embedded script (scripts/*.sh) with its values as
// positional arguments; the scripts share one exit-code table
// (exitcodes.go). This is the only package that knows paths on a host.
//
// Every path a script touches is under ROOT, its first argument: "/" on a
// real host. Tests run the scripts with a local sh and a temporary ROOT.
package hostops

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/nixctl/nixctl/internal/execx"
	"github.com/nixctl/nixctl/internal/remote"
)

// Paths on a host (under its root), for messages and hints.
const (
	StateDir       = "/var/lib/nixctl"
	DeployLockPath = StateDir + "/deploy.lock"
	LastDeployPath = StateDir + "/last-deploy.json"
)

// System is what nixctl does to a host's NixOS system: deploy, roll back,
// read its status.
type System interface {
	// Preflight checks that nix is on the PATH (ErrNoNix) and, with sudo,
	// that sudo -n works (*SudoError).
	Preflight(ctx context.Context, sudo bool) error
	// AcquireDeployLock takes the deploy lock with info as its record, or
	// returns *LockHeldError; breakLock removes a held lock first.
	AcquireDeployLock(ctx context.Context, info LockInfo, breakLock bool) error
	// ReleaseDeployLock removes the lock when record.RunID holds it and
	// keeps record as the last deploy.
	ReleaseDeployLock(ctx context.Context, record LockInfo) error
	// Generation is the system profile's current generation number.
	Generation(ctx context.Context) (int, error)
	// SwitchGeneration makes generation n current and activates it.
	SwitchGeneration(ctx context.Context, n int) error
	// Reactivate activates the system profile again (undoes a test).
	Reactivate(ctx context.Context) error
	// Status reads what the host runs.
	Status(ctx context.Context) (Status, error)
	// Ping runs a command that does nothing: the host still lets us in.
	Ping(ctx context.Context) error
	// RunCheck runs a health check's command line from the inventory.
	RunCheck(ctx context.Context, command string) error
	// ArmWatchdog starts magic rollback on the host before an activation
	// (*WatchdogPendingError when another run's is pending).
	ArmWatchdog(ctx context.Context, w Watchdog) error
	// ConfirmWatchdog disarms it after the activation, over a new
	// connection (ErrRolledBackByHost when it acted first).
	ConfirmWatchdog(ctx context.Context, runID string) error
	// ClosureDiff compares two system closures in the host's own store
	// (nix store diff-closures, then path-info --json --closure-size).
	ClosureDiff(ctx context.Context, old, new string) (diff string, sizes []byte, err error)
	Close() error
}

// Connector opens hosts: *SSH in real use, a fake in tests.
type Connector interface {
	// Connect opens r; with sudo, what changes the system goes through
	// sudo -n.
	Connect(ctx context.Context, r remote.Route, sudo bool) (System, error)
}

// Hosts opens hosts for their system, their users' Home Manager
// operations and the clusters they run: *SSH, or PrintConnector for
// --dry-run.
type Hosts interface {
	Connector
	// ConnectHome opens r as the profile's user.
	ConnectHome(ctx context.Context, r remote.Route) (Home, error)
	// ConnectCluster opens r to read its cluster's files; with sudo, the
	// reads go through sudo -n.
	ConnectCluster(ctx context.Context, r remote.Route, sudo bool) (Cluster, error)
}

// Conn runs one command line on a host; *remote.Client is one.
type Conn interface {
	Stream(ctx context.Context, command string, stdin io.Reader, stdout, stderr io.Writer) (int, error)
	Close() error
}

// Dialer opens SSH connections; *remote.Dialer is one.
type Dialer interface {
	Dial(ctx context.Context, r remote.Route) (*remote.Client, error)
}

// SSH reaches hosts over SSH.
type SSH struct {
	Dialer Dialer
	// Root is the host's file system root that every script works under:
	// "" or "/" on a real host.
	Root string
}

// Connect dials r and returns its system operations.
func (s *SSH) Connect(ctx context.Context, r remote.Route, sudo bool) (System, error) {
	return s.open(ctx, r, sudo)
}

// ConnectHome dials r as the profile's user and returns its Home Manager
// operations.
func (s *SSH) ConnectHome(ctx context.Context, r remote.Route) (Home, error) {
	return s.open(ctx, r, false)
}

// ConnectCluster dials r and returns what nixctl reads of its cluster.
func (s *SSH) ConnectCluster(ctx context.Context, r remote.Route, sudo bool) (Cluster, error) {
	return s.open(ctx, r, sudo)
}

func (s *SSH) open(ctx context.Context, r remote.Route, sudo bool) (*Host, error) {
	root, err := CleanRoot(s.Root)
	if err != nil {
		return nil, err
	}
	c, err := s.Dialer.Dial(ctx, r)
	if err != nil {
		return nil, err
	}
	return &Host{conn: c, root: root, sudo: sudo, name: r.String()}, nil
}

// CleanRoot validates a state root: "" and "/" are the host's own root;
// anything else must be a clean absolute path a script can take as one word.
func CleanRoot(root string) (string, error) {
	if root == "" || root == "/" {
		return "/", nil
	}
	if !filepath.IsAbs(root) || filepath.Clean(root) != root || strings.ContainsAny(root, "\x00\n") {
		return "", fmt.Errorf("state root %q: want an absolute, clean path", root)
	}
	return root, nil
}

// Host runs the operations on one open connection. It implements System,
// Home and Cluster.
type Host struct {
	conn Conn
	root string
	sudo bool
	name string
}

// New wraps an open connection; name is the host as messages show it.
func New(conn Conn, root string, sudo bool, name string) (*Host, error) {
	root, err := CleanRoot(root)
	if err != nil {
		return nil, err
	}
	return &Host{conn: conn, root: root, sudo: sudo, name: name}, nil
}

// Close closes the connection.
func (h *Host) Close() error { return h.conn.Close() }

// output is what a script printed.
type output struct {
	stdout string
	stderr string
}

// run runs script name with args (after the root), through sudo -n when
// elevate is set and the host was opened with sudo. stdout and stderr are
// kept and also copied to out when it is not nil. A non-zero exit returns
// *ScriptError.
func (h *Host) run(ctx context.Context, name string, elevate bool, stdin io.Reader, out io.Writer, args ...string) (output, error) {
	if p, ok := h.conn.(PrintConn); ok {
		// The same checks, without quoting a script nobody will read.
		if _, err := Script(name); err != nil {
			return output{}, err
		}
		if err := checkArgs(name, h.root, args); err != nil {
			return output{}, err
		}
		return output{}, p.printScript(name, elevate && h.sudo, h.root, args)
	}
	line, err := CommandLine(name, elevate && h.sudo, h.root, args...)
	if err != nil {
		return output{}, err
	}
	var stdout, stderr bytes.Buffer
	wo, we := io.Writer(&stdout), io.Writer(&stderr)
	if out != nil {
		wo, we = io.MultiWriter(&stdout, out), io.MultiWriter(&stderr, out)
	}
	_, err = h.conn.Stream(ctx, line, stdin, wo, we)
	o := output{stdout: stdout.String(), stderr: stderr.String()}
	var ee *remote.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		return o, &ScriptError{Host: h.name, Script: "nixctl-" + name, ExitCode: ee.ExitCode, StderrTail: o.stderr}
	case ctx.Err() != nil:
		// The connection's error quotes the whole script: name it instead.
		return o, fmt.Errorf("on %s: nixctl-%s: %w", h.name, name, ctx.Err())
	case strings.Contains(err.Error(), strconv.Quote(line)):
		return o, errors.New(strings.ReplaceAll(err.Error(), strconv.Quote(line), "nixctl-"+name))
	}
	return o, err
}

// exitCode is a script's exit code, or -1 when err is not a script's exit.
func exitCode(err error) int {
	var se *ScriptError
	if errors.As(err, &se) {
		return se.ExitCode
	}
	return -1
}

// ErrNoNix is a host where nix is not on the user's PATH.
var ErrNoNix = errors.New("nix is not on the PATH")

// SudoError is a host where sudo -n would not run.
type SudoError struct {
	// Last is sudo's last line on stderr.
	Last string
}

func (e *SudoError) Error() string { return "sudo -n true failed: " + e.Last }

// Preflight checks nix and, with sudo, sudo -n.
func (h *Host) Preflight(ctx context.Context, sudo bool) error {
	o, err := h.run(ctx, scriptPreflight, false, nil, nil, boolArg(sudo))
	switch exitCode(err) {
	case ExitNoNix:
		return ErrNoNix
	case ExitNoSudo:
		return &SudoError{Last: execx.LastLine(o.stderr)}
	}
	return err
}

// Ping runs true.
func (h *Host) Ping(ctx context.Context) error {
	_, err := h.conn.Stream(ctx, "true", nil, nil, nil)
	return err
}

// RunCheck runs command as the login user; a failure says its last line on
// stderr, which is what tells the user why.
func (h *Host) RunCheck(ctx context.Context, command string) error {
	var stderr bytes.Buffer
	_, err := h.conn.Stream(ctx, command, nil, nil, &stderr)
	var ee *remote.ExitError
	if errors.As(err, &ee) && strings.TrimSpace(stderr.String()) != "" {
		return errors.New(execx.LastLine(stderr.String()))
	}
	return err
}
