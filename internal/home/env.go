package home

import (
	"context"
	"fmt"
	"io"
	"sync"

	"github.com/nixctl/nixctl/internal/execx"
	"github.com/nixctl/nixctl/internal/inventory"
	"github.com/nixctl/nixctl/internal/ui"
)

// Streams are where results (Out) and progress and child output (Err) go.
type Streams struct{ Out, Err io.Writer }

// Events receives progress; implementations must be safe for concurrent use.
// ui.Progress is one.
type Events interface {
	// Stage says what a profile is doing now.
	Stage(profile, stage string)
	// Done says how a profile's switch ended.
	Done(profile, result string, failed bool)
	// Writer takes a profile's child output and messages, line by line.
	Writer(profile string) io.Writer
}

// logEvents writes stages and output to w, each line prefixed with the
// profile's name: what Env does when no Events are given.
type logEvents struct {
	w  io.Writer
	mu sync.Mutex
}

func (l *logEvents) Stage(profile, stage string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, "%s: %s\n", profile, stage)
}

func (l *logEvents) Done(profile, result string, failed bool) { l.Stage(profile, result) }

func (l *logEvents) Writer(profile string) io.Writer {
	return ui.NewPrefixWriter(l.w, profile+": ", &l.mu)
}

// Remote reaches the hosts of remote profiles.
type Remote interface {
	// NixStore is how nix copy reaches host's store: the ssh:// URI and the
	// ssh options (they become NIX_SSHOPTS) of the route nixctl takes.
	NixStore(host inventory.Host) (store string, sshOpts []string, err error)
	// Open connects to host as user and runs the host's preflight.
	Open(ctx context.Context, host inventory.Host, user string) (Session, error)
}

// Session is an open connection to a host as the profile's user.
type Session interface {
	// Clobbers finds the files the generation's activation would refuse to
	// overwrite in the user's home on the host (see FindClobbers).
	Clobbers(ctx context.Context, generation, backupExt string) ([]Clobber, error)
	// Activate runs generation's activate script under the host's lock,
	// with backupExt as home-manager's -b, streaming its output to out.
	Activate(ctx context.Context, generation, backupExt string, out io.Writer) error
	// Generations lists the profile's generations on the host and returns
	// the profile's path there.
	Generations(ctx context.Context) (string, []Generation, error)
	// Rollback makes target current and activates it, under the lock.
	Rollback(ctx context.Context, cur, target Generation, out io.Writer) error
	Close() error
}

// Env is what home needs from the machine it runs on.
type Env struct {
	Runner execx.Runner
	Fleet  *inventory.Fleet
	Who    Who
	Home   string
	// StateHome is $XDG_STATE_HOME, where Home Manager may keep profiles.
	StateHome string
	Err       io.Writer
	Remote    Remote
	Events    Events
}

func (e *Env) events() Events {
	if e.Events == nil {
		e.Events = &logEvents{w: e.Err}
	}
	return e.Events
}
