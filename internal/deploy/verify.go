package deploy

import (
	"context"
	"fmt"

	"github.com/nixctl/nixctl/internal/fault"
	"github.com/nixctl/nixctl/internal/hostops"
)

// Activate exactly what was built: a nixos-rebuild without --store-path
// evaluates the flake again, so a tree edited during the run (or an input
// that moved) can make it activate something nixctl never checked nor
// built. After such an activation nixctl reads what the host now runs and
// compares it with the system it built.

// MismatchError is a host that runs (or boots) another system than the one
// nixctl built.
type MismatchError struct {
	Host string
	// What is where the host's system was read: /run/current-system, or
	// the system profile after boot.
	What         string
	Built, Found string
}

func (e *MismatchError) Error() string {
	found := e.Found
	if found == "" {
		found = "nothing"
	}
	return fmt.Sprintf("nixos-rebuild activated another system than the one nixctl built and checked: %s is %s, built %s", e.What, found, e.Built)
}

// Hint says why it happens and how to avoid it.
func (e *MismatchError) Hint() string {
	return "nixos-rebuild evaluated the flake again and got something else (files edited or inputs changed during the run): keep the tree still while deploying, or install a nixos-rebuild-ng with --store-path, which activates the built system itself"
}

// verify compares the system the host runs after the activation (boots,
// after boot) with the one this run built for it.
func (x *executor) verify(ctx context.Context, h *hostRun) error {
	x.setStage(h, StageVerify)
	st, err := x.hostStatus(ctx, h)
	if err != nil {
		return fault.New(fault.Failure, fmt.Errorf("reading what the host runs after the activation: %w", err),
			"nixctl could not check that the host runs the system it built: look at the host")
	}
	e := &MismatchError{Host: h.plan.Host.Name, What: "/run/current-system", Built: h.res.StorePath, Found: st.Current}
	if x.plan.Action == "boot" {
		e.What, e.Found = "the system profile", st.Profile
	}
	if e.Found == e.Built {
		x.logf(h, "%s is %s, the system this run built", e.What, e.Built)
		return nil
	}
	return fault.New(fault.Failure, e, e.Hint())
}

// hostStatus reads the host's status over the deploy's session, or over a
// new connection when the activation dropped it (sshd restarted).
func (x *executor) hostStatus(ctx context.Context, h *hostRun) (hostops.Status, error) {
	st, err := h.session.Status(ctx)
	if err == nil || ctx.Err() != nil {
		return st, err
	}
	s, cerr := x.env.Hosts.Connect(ctx, h.plan.Route, h.plan.Elevate)
	if cerr != nil {
		return st, err
	}
	defer s.Close()
	return s.Status(ctx)
}
