package home

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/nixctl/nixctl/internal/execx"
	"github.com/nixctl/nixctl/internal/fault"
	"github.com/nixctl/nixctl/internal/hostops"
	"github.com/nixctl/nixctl/internal/inventory"
	"github.com/nixctl/nixctl/internal/nix"
	"github.com/nixctl/nixctl/internal/remote"
)

// LockWait is how long an activation waits for the host's lock: profiles
// of one host switched together take turns.
const LockWait = 5 * time.Minute

// SSH reaches remote profiles' hosts with internal/remote and runs the
// host operations of internal/hostops there. An activation holds the host's
// home lock, so another home switch on the same host waits its turn (up to
// LockWait), and never runs while a deploy holds the host.
type SSH struct {
	SSH   Reacher
	Fleet *inventory.Fleet
	// DryRun prints the ssh commands to Out instead of running them.
	DryRun bool
	Out    io.Writer
}

// Reacher resolves inventory hosts and connects to them (*remote.SSH).
type Reacher interface {
	remote.Router
	Dial(ctx context.Context, r remote.Route) (*remote.Client, error)
}

// NixStore is the host's store as nix copy reaches it, as the host's own
// user (copying needs a trusted user): the route's destination and options.
func (s *SSH) NixStore(h inventory.Host) (string, []string, error) {
	r, err := s.SSH.HostRoute(s.Fleet.Dir, &h, "")
	if err != nil {
		return "", nil, fault.New(fault.Inventory, err, fault.HintOf(err))
	}
	opts, err := r.NixSSHOpts()
	if err != nil {
		return "", nil, fault.New(fault.Inventory, fmt.Errorf("host %s: %w", h.Name, err), fault.HintOf(err))
	}
	return r.StoreURI(), strings.Fields(opts), nil
}

// Open dials host as user and runs the preflight.
func (s *SSH) Open(ctx context.Context, h inventory.Host, user string) (Session, error) {
	t, err := s.SSH.HostRoute(s.Fleet.Dir, &h, user)
	if err != nil {
		return nil, fault.New(fault.Inventory, err, fault.HintOf(err))
	}
	if s.DryRun {
		hs, err := hostops.New(hostops.PrintConn{Out: s.Out, SSH: t.Command()}, "/", false, t.String())
		if err != nil {
			return nil, err
		}
		return &session{host: h, user: user, ops: hs}, nil
	}
	hs, err := (&hostops.SSH{Dialer: s.SSH}).ConnectHome(ctx, t)
	if err != nil {
		return nil, err
	}
	if err := hs.Preflight(ctx, false); err != nil {
		_ = hs.Close()
		if errors.Is(err, hostops.ErrNoNix) {
			return nil, fault.Newf(fault.Failure, "install Nix on "+h.Name+", or put it on "+user+"'s PATH (NixOS has it)",
				"preflight on %s: nix is not on the PATH of %s", h.Name, t)
		}
		return nil, fmt.Errorf("preflight on %s: %w", h.Name, err)
	}
	return &session{host: h, user: user, ops: hs}, nil
}

// session runs a profile's operations on its host as the profile's user.
type session struct {
	host inventory.Host
	user string
	ops  hostops.Home
}

func (s *session) Close() error { return s.ops.Close() }

func (s *session) Clobbers(ctx context.Context, generation, backupExt string) ([]Clobber, error) {
	found, err := s.ops.Clobbers(ctx, generation, backupExt)
	if err != nil {
		return nil, fmt.Errorf("looking for files in the way on %s: %w", s.host.Name, err)
	}
	files := make([]Clobber, len(found))
	for i, c := range found {
		files[i] = Clobber{Path: c.Path, Backup: c.Backup}
	}
	return files, nil
}

func (s *session) Activate(ctx context.Context, generation, backupExt string, out io.Writer) error {
	err := s.ops.ActivateHome(ctx, generation, backupExt, LockWait, out)
	return s.explain(err, "activation", "nix copy did not bring the generation: check the copy's output above")
}

// Generations lists the profile's generations on the host.
func (s *session) Generations(ctx context.Context) (string, []Generation, error) {
	g, err := s.ops.HomeGenerations(ctx)
	if errors.Is(err, hostops.ErrNoGeneration) {
		return "", nil, fault.New(fault.Failure, fmt.Errorf("%s on %s: %w", s.user, s.host.Name, ErrNoGenerations), "switch the profile first: nixctl home switch")
	}
	if err != nil {
		return "", nil, fmt.Errorf("listing generations on %s: %w", s.host.Name, err)
	}
	if g.Profile == "" { // dry-run
		return "", nil, nil
	}
	gens, err := remoteGenerations(g)
	return g.Profile, gens, err
}

// remoteGenerations joins the host's listing with its generations' paths.
func remoteGenerations(g hostops.HomeGenerations) ([]Generation, error) {
	gens, err := nix.ParseGenerations(g.List, time.Local)
	if err != nil {
		return nil, err
	}
	res := make([]Generation, len(gens))
	for i, gen := range gens {
		res[i] = Generation{Generation: gen, Path: g.Links[gen.Number]}
	}
	return res, nil
}

// Rollback makes target current on the host and activates it.
func (s *session) Rollback(ctx context.Context, cur, target Generation, out io.Writer) error {
	err := s.ops.RollbackHome(ctx, cur.Number, target.Number, LockWait, out)
	return s.explain(err, "activating generation "+strconv.Itoa(target.Number), "")
}

func (s *session) explain(err error, what, missingHint string) error {
	if err == nil {
		return nil
	}
	var de *hostops.DeployingError
	var lw *hostops.LockWaitError
	var se *hostops.ScriptError
	switch {
	case errors.As(err, &de):
		holder := "another run"
		if de.Info.Who != "" {
			holder = fmt.Sprintf("%s since %s (run %s, %s)", de.Info.Who, de.Info.Started.Local().Format("2006-01-02 15:04:05"), de.Info.RunID, de.Info.Action)
		}
		return fault.Newf(fault.Failure, "wait for that deploy to finish (its lock is "+hostops.DeployLockPath+" on the host)",
			"%s is being deployed by %s", s.host.Name, holder)
	case errors.As(err, &lw):
		return fault.Newf(fault.Failure, "another nixctl run is working on "+s.host.Name+": wait for it and try again",
			"%s stayed locked for %s", s.host.Name, lw.Wait)
	case errors.Is(err, hostops.ErrNoGeneration) && missingHint != "":
		return fault.Newf(fault.Failure, missingHint, "the generation is missing on %s", s.host.Name)
	case errors.Is(err, hostops.ErrRestored):
		return fault.Newf(fault.Failure, "the previous generation is current again; see the output above",
			"%s on %s as %s failed", what, s.host.Name, s.user)
	case errors.As(err, &se):
		return fault.Newf(fault.Failure, "see the output above", "%s on %s as %s failed (exit %d): %s",
			what, s.host.Name, s.user, se.ExitCode, execx.LastLine(se.StderrTail))
	}
	return err
}
