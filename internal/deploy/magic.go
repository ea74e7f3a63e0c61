package deploy

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nixctl/nixctl/internal/fault"
	"github.com/nixctl/nixctl/internal/hostops"
)

// Magic rollback: before a switch or test, the host gets a watchdog that
// switches it back to what ran before unless nixctl, over a NEW connection
// (so the new system still lets the deployer in), confirms the activation
// in time. See hostops' watchdog script for what the host does.

// DefaultConfirmTimeout is how long a host waits for the confirmation after
// its activation, when neither the flag nor the inventory says.
const DefaultConfirmTimeout = 30 * time.Second

// defaultReturnWait is how long nixctl waits for a host that missed its
// confirmation to come back on its previous generation.
const defaultReturnWait = 2 * time.Minute

// watchdogActivationBudget bounds, on the host, the wait for an activation
// to end when --timeout sets no limit.
const watchdogActivationBudget = 30 * time.Minute

// armedWatchdog is what nixctl armed on a host, and what ran before.
type armedWatchdog struct {
	hostops.Watchdog
}

// arm starts the host's watchdog. A host without a system profile has no
// previous generation to go back to: it is deployed without one, and the
// host's log says so.
func (x *executor) arm(ctx context.Context, h *hostRun) (*armedWatchdog, error) {
	st, err := h.session.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading the running system before arming magic rollback: %w", err)
	}
	if st.Generation == 0 {
		msg := "magic rollback is off for this deploy: the host has no system profile (" + "/nix/var/nix/profiles/system" + ") to go back to"
		x.logf(h, "%s", msg)
		fmt.Fprintln(h.out, "warning: "+msg)
		return nil, nil
	}
	budget := watchdogActivationBudget
	if x.plan.Timeout > 0 {
		budget = x.plan.Timeout
	}
	w := hostops.Watchdog{RunID: x.env.RunID, Action: x.plan.Action, Generation: st.Generation, System: st.Current,
		Activation: budget, Confirm: h.plan.ConfirmTimeout}
	x.logf(h, "arming magic rollback: back to generation %d (%s) unless confirmed within %s", w.Generation, w.System, w.Confirm)
	if err := h.session.ArmWatchdog(ctx, w); err != nil {
		var pe *hostops.WatchdogPendingError
		if errors.As(err, &pe) {
			return nil, fault.New(fault.Failure, err, fmt.Sprintf("another deploy's magic rollback is still pending on the host: wait until it confirms or rolls back (nixctl status %s shows it)", h.plan.Host.Name))
		}
		return nil, err
	}
	return &armedWatchdog{w}, nil
}

// confirm proves over a new connection that the host still lets nixctl in
// and disarms its watchdog. It reports whether the host is finished (rolled
// back by itself, unreachable or interrupted); actErr is the activation's
// own error, kept when the host is confirmed.
func (x *executor) confirm(h *hostRun, w *armedWatchdog, actErr error) bool {
	if x.ctx.Err() != nil {
		// Stopped while activating: the watchdog stays, and undoes what the
		// activation may have done.
		x.fail(h, fmt.Errorf("%w (the magic-rollback watchdog stays armed: the host will %s unless confirmed)", orErr(actErr, x.ctx.Err()), watchdogAction(w)))
		return true
	}
	x.setStage(h, StageConfirm)
	deadline := time.Now().Add(w.Confirm)
	var last error
	for {
		ctx, cancel := context.WithDeadline(x.ctx, deadline)
		err := x.disarm(ctx, h)
		cancel()
		switch {
		case err == nil:
			x.logf(h, "confirmed over a new connection")
			x.backTo(h, StageActivate, actErr)
			return false
		case errors.Is(err, hostops.ErrRolledBackByHost):
			x.rolledBackByHost(h, w, actErr)
			return true
		case x.ctx.Err() != nil:
			x.fail(h, fmt.Errorf("the activation was not confirmed (the host switches back to generation %d unless a later run confirms it): %w", w.Generation, x.ctx.Err()))
			return true
		}
		last = err
		if !time.Now().Before(deadline) {
			break
		}
		x.pause()
	}
	x.logf(h, "could not confirm within %s: %v", w.Confirm, last)
	return x.awaitReturn(h, w, deadline, last, actErr)
}

// disarm opens a new connection and confirms the watchdog over it. When
// the watchdog acted first, the connection stays open for rolledBackByHost.
func (x *executor) disarm(ctx context.Context, h *hostRun) error {
	s, err := x.env.Hosts.Connect(ctx, h.plan.Route, h.plan.Elevate)
	if err != nil {
		return err
	}
	err = s.ConfirmWatchdog(ctx, x.env.RunID)
	if errors.Is(err, hostops.ErrRolledBackByHost) {
		h.mu.Lock()
		h.back = s
		h.mu.Unlock()
		return err
	}
	_ = s.Close()
	return err
}

// awaitReturn waits for a host that could not be reached in time to come
// back, on the generation that ran before.
func (x *executor) awaitReturn(h *hostRun, w *armedWatchdog, deadline time.Time, connErr, actErr error) bool {
	wait := x.plan.ReturnWait
	if wait <= 0 {
		wait = defaultReturnWait
	}
	until := deadline.Add(w.Confirm + wait)
	for time.Now().Before(until) && x.ctx.Err() == nil {
		ctx, cancel := context.WithDeadline(x.ctx, until)
		err := x.disarm(ctx, h)
		cancel()
		if err == nil {
			// Back in time after all: the watchdog had not acted yet.
			x.logf(h, "confirmed late, before the host rolled back")
			x.backTo(h, StageActivate, actErr)
			return false
		}
		if errors.Is(err, hostops.ErrRolledBackByHost) {
			x.rolledBackByHost(h, w, actErr)
			return true
		}
		x.pause()
	}
	if x.ctx.Err() != nil {
		x.fail(h, fmt.Errorf("waiting for the host to roll itself back: %w", x.ctx.Err()))
		return true
	}
	x.finish(h, ResultUnreachable, fault.New(fault.Failure,
		fmt.Errorf("could not reconnect after the activation (%w), nor in the %s after: its watchdog was set to %s at about %s",
			connErr, w.Confirm+wait, watchdogAction(w), deadline.Local().Format("15:04:05")),
		fmt.Sprintf("look at the host's console; once it answers, nixctl status %s shows whether a watchdog is still pending (unit %s%s, or %s/armed)",
			h.plan.Host.Name, hostops.WatchdogUnitPrefix, x.env.RunID, hostops.WatchdogDir)))
	return true
}

func watchdogAction(w *armedWatchdog) string {
	if w.Action == "test" {
		return "activate the system profile again"
	}
	return fmt.Sprintf("switch back to generation %d", w.Generation)
}

// rolledBackByHost ends a host whose watchdog acted: it checks that the
// host runs what it ran before.
func (x *executor) rolledBackByHost(h *hostRun, w *armedWatchdog, actErr error) {
	ctx, cancel := context.WithTimeout(x.ctx, max(time.Minute, x.plan.ReturnWait))
	defer cancel()
	why := fmt.Sprintf("nixctl could not reconnect within %s of the activation", w.Confirm)
	if actErr != nil {
		why = fmt.Sprintf("the activation failed (%v) and nixctl could not reconnect within %s", actErr, w.Confirm)
	}
	// Read the host over the connection that heard of the rollback.
	st, err := h.back.Status(ctx)
	_ = h.back.Close()
	switch {
	case err != nil:
		x.finish(h, ResultRollbackFailed, fault.New(fault.Failure,
			fmt.Errorf("%s; the host rolled itself back, then could not be read: %w", why, err), "look at the host: it should run "+w.System))
	case st.Current != w.System:
		x.finish(h, ResultRollbackFailed, fault.New(fault.Failure,
			fmt.Errorf("%s; the host rolled itself back, but runs %s, not %s", why, st.Current, w.System), "look at the host's watchdog log: "+hostops.WatchdogDir+"/log"))
	default:
		h.res.Generation = st.Generation
		x.finish(h, ResultRolledBackByHost, fault.New(fault.RolledBack,
			fmt.Errorf("%s; the host went back by itself to generation %d (%s)", why, st.Generation, st.Current),
			"the new generation does not let nixctl in again (sshd, firewall, network?): fix it and deploy again"))
	}
}

// backTo puts a host whose activation failed back at stage, so that its
// failure names the activation, not the confirmation that followed.
func (x *executor) backTo(h *hostRun, stage string, actErr error) {
	if actErr != nil {
		h.mu.Lock()
		h.stage = stage
		h.mu.Unlock()
	}
}

func orErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// pause waits between two attempts.
func (x *executor) pause() {
	d := x.plan.HealthInterval
	if d <= 0 {
		d = time.Second
	}
	select {
	case <-x.ctx.Done():
	case <-time.After(d):
	}
}
