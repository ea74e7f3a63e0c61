package deploy

import (
	"context"
	"errors"
	"fmt"

	"github.com/nixctl/nixctl/internal/fault"
	"github.com/nixctl/nixctl/internal/hostops"
	"github.com/nixctl/nixctl/internal/remote"
)

// PreflightError is a host that is not ready to be deployed.
type PreflightError struct {
	Host    string
	Problem string
	Fix     string
	Err     error
}

// Error leaves the host out: the report names it once, in front.
func (e *PreflightError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %v", e.Problem, e.Err)
	}
	return e.Problem
}

func (e *PreflightError) Unwrap() error { return e.Err }

// Hint says what to fix on the host or in nixctl.yaml.
func (e *PreflightError) Hint() string { return e.Fix }

// preflight connects to the host (its key must match known_hosts) and
// checks that it can be deployed: nix is there and, when needed, sudo
// works without a password. It returns the open host.
func preflight(ctx context.Context, d hostops.Connector, h HostPlan) (hostops.System, error) {
	s, err := d.Connect(ctx, h.Route, h.Elevate)
	if err != nil {
		return nil, err
	}
	fail := func(problem, fix string, err error) (hostops.System, error) {
		_ = s.Close()
		return nil, &PreflightError{Host: h.Host.Name, Problem: problem, Fix: fix, Err: err}
	}
	if h.Elevate && !h.Host.Sudo {
		// Still ask the host first: a host without nix says so before this.
		if err := s.Preflight(ctx, false); err != nil {
			return preflightFailed(ctx, h.Route, err, fail)
		}
		return fail(fmt.Sprintf("user %s is not root and sudo is off", h.Route.User),
			"set sudo: true for this host in nixctl.yaml (activation needs root), or deploy as root", nil)
	}
	if err := s.Preflight(ctx, h.Host.Sudo || h.Elevate); err != nil {
		return preflightFailed(ctx, h.Route, err, fail)
	}
	return s, nil
}

// preflightBuildHost checks the build host as a target is checked: its
// key, that nixctl gets in along the same route nixos-rebuild will take,
// and that nix is there to build with.
func preflightBuildHost(ctx context.Context, d hostops.Connector, h HostPlan) error {
	if h.BuildRoute == nil {
		return nil
	}
	fail := func(problem, fix string, err error) (hostops.System, error) {
		return nil, &PreflightError{Host: h.Host.Name, Problem: "build host " + h.BuildRoute.Name + ": " + problem, Fix: fix, Err: err}
	}
	s, err := d.Connect(ctx, *h.BuildRoute, false)
	if err != nil {
		_, err = fail("cannot connect", fault.HintOf(err), err)
		return err
	}
	defer s.Close()
	if err := s.Preflight(ctx, false); err != nil {
		if errors.Is(err, hostops.ErrNoNix) {
			_, err = fail("nix is not on the PATH of "+h.BuildRoute.String(), "the build host builds with nix: install it there, or build here (drop --build-host / buildHost:)", nil)
			return err
		}
		_, err = preflightFailed(ctx, *h.BuildRoute, err, fail)
		return err
	}
	return nil
}

func preflightFailed(ctx context.Context, r remote.Route, err error, fail func(problem, fix string, err error) (hostops.System, error)) (hostops.System, error) {
	var se *hostops.SudoError
	switch {
	case ctx.Err() != nil:
		return fail("cancelled", "", ctx.Err())
	case errors.Is(err, hostops.ErrNoNix):
		return fail("nix is not on the PATH of "+r.String(), "is this a NixOS host? nixos-rebuild needs nix on the target", nil)
	case errors.As(err, &se):
		var last error
		if se.Last != "" {
			last = errors.New(se.Last)
		}
		return fail("sudo -n true failed for "+r.String(),
			fmt.Sprintf("let %s run sudo without a password on the host (security.sudo.wheelNeedsPassword = false, or a NOPASSWD rule)", r.User), last)
	}
	return fail("running a command", "", err)
}
