package deploy

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"syscall"
	"time"

	"github.com/nixctl/nixctl/internal/hostops"
)

// LockInfo is who holds a host, written into the lock and, with the result,
// into the last-deploy record (hostops owns its format).
type LockInfo = hostops.LockInfo

// LockedError is a host another deploy holds.
type LockedError struct {
	Host string
	Info LockInfo
	Raw  string
	// Stale: the holder ran on this machine and has ended (its connection
	// dropped before it could release the lock).
	Stale bool
}

func (e *LockedError) Error() string {
	if e.Stale {
		return fmt.Sprintf("%s is locked by a deploy that is no longer running (%s, run %s, %s, pid %d ended)", e.Host, e.Info.Who, e.Info.RunID, e.Info.Action, e.Info.PID)
	}
	if e.Info.Who == "" {
		return fmt.Sprintf("%s is locked by another deploy (%s)", e.Host, strings.TrimSpace(e.Raw))
	}
	if e.Info.Started.IsZero() {
		return fmt.Sprintf("%s is locked by %s", e.Host, e.Info.Who)
	}
	rev := ""
	if e.Info.GitRev != "" {
		rev = ", rev " + e.Info.GitRev
	}
	age := ""
	if !e.Info.Started.IsZero() {
		age = ", " + time.Since(e.Info.Started).Round(time.Minute).String() + " ago"
	}
	return fmt.Sprintf("%s is locked by %s since %s%s (run %s, %s%s)", e.Host, e.Info.Who,
		e.Info.Started.Local().Format("2006-01-02 15:04:05"), age, e.Info.RunID, e.Info.Action, rev)
}

// Hint says how to go on.
func (e *LockedError) Hint() string {
	if e.Stale {
		return fmt.Sprintf("the lock was left behind (%s on the host): pass --break-lock to take it over", hostops.DeployLockPath)
	}
	if e.Info.Action == "home switch" {
		return "a Home Manager profile is being activated on the host: deploy again when it is done"
	}
	return fmt.Sprintf("wait for that deploy to finish; if it is no longer running, pass --break-lock (the lock is %s on the host)", hostops.DeployLockPath)
}

// acquireLock takes the host's lock, or reports its holder.
func acquireLock(ctx context.Context, s hostops.System, h HostPlan, info LockInfo, breakLock bool) error {
	err := s.AcquireDeployLock(ctx, info, breakLock)
	var held *hostops.LockHeldError
	if errors.As(err, &held) {
		le := &LockedError{Host: h.Host.Name, Info: held.Info, Raw: held.Raw}
		le.Stale = le.Info.Who == info.Who && le.Info.PID > 0 && le.Info.PID != info.PID && !running(le.Info.PID)
		return le
	}
	return err
}

// currentGeneration reads the system profile's generation number (0 when
// it cannot be read).
func currentGeneration(ctx context.Context, s hostops.System) int {
	n, err := s.Generation(ctx)
	if err != nil {
		return 0
	}
	return n
}

// running reports whether process pid exists on this machine (one of
// another user's counts: kill answers EPERM, not ESRCH).
func running(pid int) bool {
	return !errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}
