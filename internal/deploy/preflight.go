package deploy

import (
	"context"
	"errors"
	"fmt"

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
	s, err := d.Connect(ctx, h.Target)
	if err != nil {
		return nil, err
	}
	fail := func(problem, fix string, err error) (remote.Session, error) {
		_ = s.Close()
		return nil, &PreflightError{Host: h.Host.Name, Problem: problem, Fix: fix, Err: err}
	}
	if _, err := s.Run(ctx, "command -v nix >/dev/null", nil); err != nil {
		if ctx.Err() != nil {
			return fail("cancelled", "", ctx.Err())
		}
		var ee *remote.ExitError
		if errors.As(err, &ee) {
			return fail("nix is not on the PATH of "+h.Target.String(), "is this a NixOS host? nixos-rebuild needs nix on the target", nil)
		}
		return fail("running a command", "", err)
	}
	if h.Elevate && !h.Host.Sudo {
		return fail(fmt.Sprintf("user %s is not root and sudo is off", h.Host.User),
			"set sudo: true for this host in nixctl.yaml (activation needs root), or deploy as root", nil)
	}
	if h.Host.Sudo || h.Elevate {
		if _, err := s.Run(ctx, "sudo -n true", nil); err != nil {
			if ctx.Err() != nil {
				return fail("cancelled", "", ctx.Err())
			}
			return fail("sudo -n true failed for "+h.Target.String(),
				fmt.Sprintf("let %s run sudo without a password on the host (security.sudo.wheelNeedsPassword = false, or a NOPASSWD rule)", h.Host.User), lastLineOf(err))
		}
	}
	return s, nil
}

// lastLineOf keeps a remote command's error short: its last stderr line.
func lastLineOf(err error) error {
	var ee *remote.ExitError
	if errors.As(err, &ee) && ee.StderrTail != "" {
		return errors.New(lastLine(ee.StderrTail))
	}
	return err
}
