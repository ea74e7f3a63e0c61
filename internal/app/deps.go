// Package app builds what commands need, once and lazily: the IO streams,
// the global configuration, the inventory and the runner. It is the only
// place where real implementations are chosen; New is the one way to build
// Deps, and what a test varies (runner, environment, working directory,
// clock, account) it passes there.
package app

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/nixctl/nixctl/internal/config"
	"github.com/nixctl/nixctl/internal/execx"
	"github.com/nixctl/nixctl/internal/fault"
	"github.com/nixctl/nixctl/internal/fsx"
	"github.com/nixctl/nixctl/internal/hostops"
	"github.com/nixctl/nixctl/internal/inventory"
	"github.com/nixctl/nixctl/internal/remote"
	"github.com/nixctl/nixctl/internal/ui"
)

// Parts are what a run of nixctl is made of: the entry point gives the
// process's own, a test its own.
type Parts struct {
	// Runner runs every child process; nil is the real runner, in Env.
	Runner execx.Runner
	// Env is the environment, read once (NewEnv(os.Environ()) in Main).
	Env Env
	// Cwd is the working directory relative paths and the inventory search
	// start from.
	Cwd   string
	Stdio ui.Stdio
	// Now is the clock; nil is time.Now.
	Now func() time.Time
	// Account is the account the process runs as; nil is os/user.Current.
	Account func() (*user.User, error)
	// Version is the build's version string.
	Version string
	// Hosts carries out the operations on hosts; nil is SSH along each
	// host's route (Deps.SSH).
	Hosts hostops.Hosts
}

// Deps is handed to every command constructor.
type Deps struct {
	// IO talks to the user: until the global flags are read, without colour.
	IO     *ui.IO
	Stdio  ui.Stdio
	Config *config.Config
	Env    Env
	Cwd    string
	Now    func() time.Time
	// Version is the build's version string.
	Version string

	account func() (*user.User, error)
	exec    execx.Runner
	hosts   hostops.Hosts

	runnerOnce sync.Once
	runner     execx.Runner

	writerOnce sync.Once
	writer     fsx.Writer

	printerOnce sync.Once
	printer     io.Writer

	fleetOnce sync.Once
	fleet     *inventory.Fleet
	fleetErr  error

	sshOnce sync.Once
	ssh     *remote.SSH
	sshErr  error
}

// New builds the Deps of one run from its parts.
func New(p Parts) *Deps {
	d := &Deps{Stdio: p.Stdio, Env: p.Env, Cwd: p.Cwd, Now: p.Now, Version: p.Version, account: p.Account, exec: p.Runner, hosts: p.Hosts}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.account == nil {
		d.account = user.Current
	}
	d.IO = ui.New(p.Stdio, p.Env.Terminal(), true)
	if d.exec == nil {
		real := execx.NewReal()
		real.Env = p.Env.Environ()
		// d.IO is replaced once the flags are read: look it up per call.
		real.Debug = func(c execx.Cmd) { d.IO.Debugf("run: %s", c.String()) }
		d.exec = real
	}
	return d
}

// SSH is the one way every command reaches hosts: routes resolved from the
// ssh configuration and the inventory, and connections along them. It
// reads ~/.ssh/config from $HOME; an exported NIX_SSHOPTS is kept in front
// of nixctl's options, as nix tools put it there.
func (d *Deps) SSH() (*remote.SSH, error) {
	d.sshOnce.Do(func() {
		d.ssh, d.sshErr = remote.New(remote.Env{
			Home:       d.Home(),
			SystemHome: remote.PasswdHome(),
			LocalUser:  d.Env.User,
			AuthSock:   d.Env.SSHAuthSock,
			Shared:     strings.Fields(d.Env.NixSSHOpts),
			Lookup:     d.Env.Lookup,
		})
		if d.sshErr != nil {
			d.sshErr = fault.New(fault.Inventory, d.sshErr, fault.HintOf(d.sshErr))
		}
	})
	return d.ssh, d.sshErr
}

// Runner returns the runner every command must use: the real one, wrapped
// in dry-run when --dry-run is set.
func (d *Deps) Runner() execx.Runner {
	d.runnerOnce.Do(func() {
		r := d.exec
		if d.Config != nil && d.Config.DryRun {
			r = execx.NewDryRun(r, d.PlanPrinter())
		}
		d.runner = r
	})
	return d.runner
}

// Writer returns the file writer every command must use to change files:
// the disk, or with --dry-run a printer of each change on stdout, beside
// the commands the dry-run runner prints.
func (d *Deps) Writer() fsx.Writer {
	d.writerOnce.Do(func() {
		var w fsx.Writer = fsx.Disk{}
		if d.Config != nil && d.Config.DryRun {
			w = fsx.NewDryRun(d.PlanPrinter())
		}
		d.writer = w
	})
	return d.writer
}

// Hosts returns how commands run operations on hosts: over SSH through
// dialer (or the Hosts of Parts), or with --dry-run a printer of each
// operation's ssh command line beside the commands and file changes
// (PlanPrinter).
func (d *Deps) Hosts(dialer hostops.Dialer) hostops.Hosts {
	switch {
	case d.Config != nil && d.Config.DryRun:
		return hostops.PrintConnector{Out: d.PlanPrinter()}
	case d.hosts != nil:
		return d.hosts
	}
	return &hostops.SSH{Dialer: dialer}
}

// PlanPrinter is stdout for the dry-run runner, file writer and hosts,
// which print from several goroutines (hosts run in parallel): one whole
// line at a time, in the order they come. With --json it is stderr, so
// that stdout holds the one JSON document.
func (d *Deps) PlanPrinter() io.Writer {
	d.printerOnce.Do(func() {
		w := d.IO.Out
		if d.Config != nil && d.Config.JSON {
			w = d.IO.Err
		}
		d.printer = &lockedWriter{w: w}
	})
	return d.printer
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// Fleet loads and validates the inventory on first use.
func (d *Deps) Fleet() (*inventory.Fleet, error) {
	d.fleetOnce.Do(func() { d.fleet, d.fleetErr = d.loadFleet() })
	return d.fleet, d.fleetErr
}

func (d *Deps) loadFleet() (*inventory.Fleet, error) {
	path, err := d.Config.FindInventory(d.Cwd)
	if err != nil {
		return nil, err
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, fault.New(fault.Inventory, err, "")
	}
	if !st.Mode().IsRegular() {
		return nil, fault.Newf(fault.Inventory, "point --config at a regular file", "inventory %s is not a regular file", path)
	}
	if st.Size() > inventory.MaxFileSize {
		return nil, fault.Newf(fault.Inventory, "an inventory is a few kilobytes: check that --config names the right file", "inventory %s is %d bytes, more than the %d nixctl reads", path, st.Size(), inventory.MaxFileSize)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrPermission) {
			return nil, fault.New(fault.Inventory, err, "make the file readable")
		}
		return nil, fault.New(fault.Inventory, err, "")
	}
	rel := path
	if r, err := filepath.Rel(d.Cwd, path); err == nil && len(r) < len(path) {
		rel = r
	}
	f, err := inventory.ParseAt(rel, path, data)
	if err != nil {
		return nil, fault.New(fault.Inventory, err, fault.HintOf(err))
	}
	if d.Config.Flake != "" {
		if dir, ok := config.LocalFlakeDir(d.Config.Flake, d.Cwd); ok {
			f.Flake = dir
		} else {
			f.Flake = d.Config.Flake
		}
	}
	return f, nil
}

// StateDir is $XDG_STATE_HOME/nixctl (logs, run records).
func (d *Deps) StateDir() string {
	if s := d.Env.StateHome; s != "" {
		return filepath.Join(s, "nixctl")
	}
	return filepath.Join(d.Home(), ".local", "state", "nixctl")
}

// Home is the user's home directory, $HOME.
func (d *Deps) Home() string { return d.Env.Home }

// UserName is the account nixctl runs as. $USER only names it: an unset
// $USER, or one left over from another account (sudo -E, su without -),
// would send per-user paths (Home Manager's profile under
// /nix/var/nix/profiles/per-user) to the wrong user, so the process's uid
// decides. $USER wins only when it is another name of that same uid, or
// when the uid has no name in the password database (some containers).
func (d *Deps) UserName() string {
	env := d.Env.User
	u, err := d.account()
	if err != nil || u.Username == "" {
		return env
	}
	if env == "" || env == u.Username {
		return u.Username
	}
	if other, err := user.Lookup(env); err == nil && other.Uid == u.Uid {
		return env
	}
	return u.Username
}

// RequireYes asks for confirmation unless --yes; without a terminal --yes is required.
// With --dry-run the question is a step of the printed plan, answered yes.
func (d *Deps) RequireYes(question string) error {
	if d.Config.DryRun {
		_, err := fmt.Fprintf(d.PlanPrinter(), "# ask: %s (a dry run answers yes)\n", question)
		return err
	}
	if d.Config.Yes {
		return nil
	}
	ok, err := d.IO.Confirm(question)
	if errors.Is(err, ui.ErrNoTTY) {
		return fault.Usagef("pass --yes (or set NIXCTL_YES=1) to confirm without a terminal", "%s: confirmation needed but there is no terminal", question)
	}
	if err != nil {
		return err
	}
	if !ok {
		return fault.Cancel(fmt.Sprintf("%q was not confirmed; nothing was changed", question))
	}
	return nil
}
