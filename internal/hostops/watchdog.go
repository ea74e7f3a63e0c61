package hostops

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// WatchdogUnitPrefix names the transient systemd unit of a pending
// watchdog: nixctl-watchdog-RUNID.
const WatchdogUnitPrefix = "nixctl-watchdog-"

// WatchdogDir is where a host keeps its watchdog's record.
const WatchdogDir = StateDir + "/watchdog"

// Watchdog is what a host does when nixctl does not confirm an activation.
type Watchdog struct {
	RunID string
	// Action is switch or test.
	Action string
	// Generation is the system generation to go back to (switch), System
	// the /run/current-system before the activation.
	Generation int
	System     string
	// Activation bounds how long the watchdog waits for the activation to
	// end; Confirm is how long it then waits for nixctl.
	Activation time.Duration
	Confirm    time.Duration
}

// PendingWatchdog is a watchdog a host holds, as its record says.
type PendingWatchdog struct {
	RunID      string    `json:"runId"`
	Action     string    `json:"action"`
	Generation int       `json:"generation,omitempty"`
	System     string    `json:"system,omitempty"`
	Armed      time.Time `json:"armed,omitzero"`
	Confirm    int       `json:"confirmSeconds,omitempty"`
	// Unit is the transient systemd unit, PID the detached process.
	Unit string `json:"unit,omitempty"`
	PID  int    `json:"pid,omitempty"`
	// Fired is when it rolled back (zero while pending).
	Fired time.Time `json:"fired,omitzero"`
}

// WatchdogPendingError is another run's watchdog, still armed on the host.
type WatchdogPendingError struct{ Pending PendingWatchdog }

func (e *WatchdogPendingError) Error() string {
	where := e.Pending.Unit
	if where == "" {
		where = fmt.Sprintf("pid %d", e.Pending.PID)
	}
	return fmt.Sprintf("a magic-rollback watchdog of run %s is pending (%s, %s)", e.Pending.RunID, where, WatchdogDir+"/armed")
}

// ErrRolledBackByHost: the watchdog rolled the host back before nixctl
// could confirm.
var ErrRolledBackByHost = errors.New("the host rolled itself back")

var runIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// ArmWatchdog starts the host's watchdog for w.
func (h *Host) ArmWatchdog(ctx context.Context, w Watchdog) error {
	if !runIDPattern.MatchString(w.RunID) {
		return fmt.Errorf("run id %q cannot name a unit", w.RunID)
	}
	if w.Action != "switch" && w.Action != "test" {
		return fmt.Errorf("magic rollback after %s: only switch and test", w.Action)
	}
	if w.Action == "switch" && w.Generation <= 0 && w.Generation != PlannedGeneration {
		return fmt.Errorf("magic rollback: no generation to go back to")
	}
	text, err := Script(scriptWatchdog)
	if err != nil {
		return err
	}
	o, err := h.run(ctx, scriptWatchdog, true, strings.NewReader(text), nil, "arm", w.RunID, w.Action,
		generationArg(w.Generation), w.System, seconds(w.Activation), seconds(w.Confirm))
	if exitCode(err) == ExitHeld {
		return &WatchdogPendingError{Pending: parseWatchdog(o.stdout)}
	}
	if err != nil {
		return fmt.Errorf("arming the magic-rollback watchdog: %w", err)
	}
	return nil
}

// ConfirmWatchdog disarms run runID's watchdog: the activation is kept.
// It returns ErrRolledBackByHost when the watchdog acted first.
func (h *Host) ConfirmWatchdog(ctx context.Context, runID string) error {
	_, err := h.run(ctx, scriptWatchdog, true, nil, nil, "confirm", runID)
	switch exitCode(err) {
	case ExitRestored:
		return ErrRolledBackByHost
	case ExitNoGeneration:
		return fmt.Errorf("no watchdog of run %s on the host", runID)
	}
	return err
}

func seconds(d time.Duration) string {
	return strconv.Itoa(max(int((d+time.Second-1)/time.Second), 1))
}

// parseWatchdog reads a watchdog record (key=value lines).
func parseWatchdog(s string) PendingWatchdog {
	var p PendingWatchdog
	unix := func(v string) time.Time {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return time.Time{}
		}
		return time.Unix(n, 0).UTC()
	}
	for _, l := range strings.Fields(s) {
		k, v, _ := strings.Cut(l, "=")
		switch k {
		case "runId":
			p.RunID = v
		case "action":
			p.Action = v
		case "generation":
			p.Generation, _ = strconv.Atoi(v)
		case "system":
			p.System = v
		case "armed":
			p.Armed = unix(v)
		case "confirm":
			p.Confirm, _ = strconv.Atoi(v)
		case "unit":
			p.Unit = v
		case "pid":
			p.PID, _ = strconv.Atoi(v)
		case "fired":
			p.Fired = unix(v)
		}
	}
	return p
}
