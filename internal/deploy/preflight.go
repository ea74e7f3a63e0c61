package deploy

import (
	"context"
	"errors"
	"fmt"

	"github.com/nixctl/nixctl/internal/exitcode"
	"github.com/nixctl/nixctl/internal/remote"
)

// PreflightError is a host that is not ready to be deployed.
type PreflightError struct {
	Host    string
	Problem string
	Fix     string
	Err     error
}

func (e *PreflightError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Host, e.Problem, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Host, e.Problem)
}

func (e *PreflightError) Unwrap() error { return e.Err }

// Hint says what to fix on the host or in nixctl.yaml.
func (e *PreflightError) Hint() string { return e.Fix }

// preflight connects to the host (its key must match known_hosts) and
// checks that it can be deployed: nix is there and, when needed, sudo
// works without a password. It returns the open session.
func preflight(ctx context.Context, d remote.Connector, h HostPlan) (remote.Session, error) {
	s, err := d.Connect(ctx, h.Route)
	if err != nil {
		return nil, err
	}
	fail := func(problem, fix string, err error) (remote.Session, error) {
		_ = s.Close()
		return nil, &PreflightError{Host: h.Host.Name, Problem: problem, Fix: fix, Err: err}
	}
	if problem, err := checkNix(ctx, s, h.Route); problem != "" {
		return fail(problem, fixIf(err == nil, "is this a NixOS host? nixos-rebuild needs nix on the target"), err)
	}
	if h.Elevate && !h.Host.Sudo {
		return fail(fmt.Sprintf("user %s is not root and sudo is off", h.Route.User),
			"set sudo: true for this host in nixctl.yaml (activation needs root), or deploy as root", nil)
	}
	if h.Host.Sudo || h.Elevate {
		if _, err := s.Run(ctx, "sudo -n true", nil); err != nil {
			if ctx.Err() != nil {
				return fail("cancelled", "", ctx.Err())
			}
			return fail("sudo -n true failed for "+h.Route.String(),
				fmt.Sprintf("let %s run sudo without a password on the host (security.sudo.wheelNeedsPassword = false, or a NOPASSWD rule)", h.Route.User), lastLineOf(err))
		}
	}
	return s, nil
}

// preflightBuildHost checks the build host as a target is checked: its
// key, that nixctl gets in along the same route nixos-rebuild will take,
// and that nix is there to build with.
func preflightBuildHost(ctx context.Context, d remote.Connector, h HostPlan) error {
	if h.BuildRoute == nil {
		return nil
	}
	fail := func(problem, fix string, err error) error {
		return &PreflightError{Host: h.Host.Name, Problem: "build host " + h.BuildRoute.Name + ": " + problem, Fix: fix, Err: err}
	}
	s, err := d.Connect(ctx, *h.BuildRoute)
	if err != nil {
		return fail("cannot connect", exitcode.HintOf(err), err)
	}
	defer s.Close()
	if problem, err := checkNix(ctx, s, *h.BuildRoute); problem != "" {
		return fail(problem, fixIf(err == nil, "the build host builds with nix: install it there, or build here (drop --build-host / buildHost:)"), err)
	}
	return nil
}

func fixIf(ok bool, fix string) string {
	if ok {
		return fix
	}
	return ""
}

// checkNix says what is wrong ("" = nothing) when nix is not on the PATH
// of the session's user.
func checkNix(ctx context.Context, s remote.Session, r remote.Route) (string, error) {
	_, err := s.Run(ctx, "command -v nix >/dev/null", nil)
	var ee *remote.ExitError
	switch {
	case err == nil:
		return "", nil
	case ctx.Err() != nil:
		return "cancelled", ctx.Err()
	case errors.As(err, &ee):
		return "nix is not on the PATH of " + r.String(), nil
	}
	return "running a command", err
}

// lastLineOf keeps a remote command's error short: its last stderr line.
func lastLineOf(err error) error {
	var ee *remote.ExitError
	if errors.As(err, &ee) && ee.StderrTail != "" {
		return errors.New(lastLine(ee.StderrTail))
	}
	return err
}
