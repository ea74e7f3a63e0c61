package home

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/nixctl/nixctl/internal/execx"
	"github.com/nixctl/nixctl/internal/fault"
	"github.com/nixctl/nixctl/internal/inventory"
	"github.com/nixctl/nixctl/internal/nix"
)

// RemoteProfile is a profile whose generations live on a host of the fleet.
type RemoteProfile struct {
	Profile inventory.Profile
	Host    *inventory.Host
}

// User is the account the profile belongs to on the host.
func (r RemoteProfile) User() string {
	if r.Profile.User == "" {
		return r.Host.User
	}
	return r.Profile.User
}

// Remote resolves a remote profile's host.
func (e *Env) RemoteProfile(p inventory.Profile) (RemoteProfile, error) {
	h, ok := e.Fleet.Host(p.Host)
	if !ok {
		return RemoteProfile{}, fault.Newf(fault.Inventory, "fix profiles[].host in nixctl.yaml", "profile %s: no host %q", p.Name, p.Host)
	}
	if e.Remote == nil {
		return RemoteProfile{}, fault.Newf(fault.Failure, "", "profile %s: remote profiles are not available in this build", p.Name)
	}
	return RemoteProfile{Profile: p, Host: h}, nil
}

func (e *Env) open(ctx context.Context, rp RemoteProfile) (Session, error) {
	e.events().Stage(rp.Profile.Name, "connecting to "+rp.Host.Name+" as "+rp.User())
	s, err := e.Remote.Open(ctx, *rp.Host, rp.User())
	if err != nil {
		return nil, fmt.Errorf("profile %s: %w", rp.Profile.Name, err)
	}
	return s, nil
}

// RemoteGenerations lists a remote profile's generations on its host.
func (e *Env) RemoteGenerations(ctx context.Context, rp RemoteProfile) ([]Generation, error) {
	s, err := e.open(ctx, rp)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	_, gens, err := s.Generations(ctx)
	return gens, err
}

// RemoteRollback rolls a remote profile back to generation to (0: the one
// before the current) and activates it on the host.
func (e *Env) RemoteRollback(ctx context.Context, rp RemoteProfile, to int, out io.Writer) (cur, target Generation, err error) {
	s, err := e.open(ctx, rp)
	if err != nil {
		return cur, target, err
	}
	defer s.Close()
	_, gens, err := s.Generations(ctx)
	if err != nil {
		return cur, target, err
	}
	if gens == nil { // dry-run: the list is not known
		if to == 0 {
			return cur, target, fault.Usagef("pass --to N with --dry-run", "--dry-run cannot know the previous generation on %s", rp.Host.Name)
		}
		target.Number = to
	} else if cur, target, err = RollbackTarget(gens, to); err != nil {
		return cur, target, err
	}
	e.events().Stage(rp.Profile.Name, fmt.Sprintf("rolling back on %s from generation %d to %d", rp.Host.Name, cur.Number, target.Number))
	return cur, target, s.Rollback(ctx, cur, target, out)
}

// remoteDiff compares a remote profile's new generation with the current one
// on its host. The current one is copied here first when this machine's
// store does not have it (nix store diff-closures reads local closures).
func (e *Env) remoteDiff(ctx context.Context, t *Target) (*Diff, error) {
	rp := RemoteProfile{Profile: t.Profile, Host: t.Host}
	if e.Remote == nil {
		return nil, fault.Newf(fault.Failure, "", "profile %s: remote profiles are not available in this build", t.Profile.Name)
	}
	s, err := e.open(ctx, rp)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	_, gens, err := s.Generations(ctx)
	if err != nil && !errors.Is(err, ErrNoGenerations) {
		return nil, err
	}
	cur := ""
	for _, g := range gens {
		if g.Current {
			cur = g.Path
		}
	}
	if cur != "" {
		if _, err := os.Stat(cur); errors.Is(err, fs.ErrNotExist) {
			store, opts, err := e.Remote.NixStore(*t.Host)
			if err != nil {
				return nil, err
			}
			e.events().Stage(t.Profile.Name, "copying the current generation from "+t.Host.Name+" to compare")
			argv, env := nix.CopyToSSH(nix.CopyOptions{From: true, Store: store, SSHOpts: opts, Paths: []string{cur}})
			if _, err := e.Runner.Run(ctx, execx.Cmd{Argv: argv, Env: env, Stderr: e.Err}); err != nil {
				return nil, fmt.Errorf("profile %s: copying the current generation from %s: %w", t.Profile.Name, t.Host.Name, err)
			}
		}
	}
	return DiffGenerations(ctx, e.Runner, t.Profile.Name, cur, t.Generation)
}
