package hostops

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// LockInfo is who holds a host, written into the deploy lock and, with the
// result, into the last-deploy record.
type LockInfo struct {
	RunID   string    `json:"runId"`
	Who     string    `json:"who"`
	Started time.Time `json:"started"`
	GitRev  string    `json:"gitRev,omitempty"`
	Action  string    `json:"action"`
	// PID is the deploying nixctl's process id on the machine Who names,
	// so a later run there can tell a lock its holder left behind.
	PID int `json:"pid,omitempty"`
	// Set in the last-deploy record only.
	Result     string    `json:"result,omitempty"`
	Finished   time.Time `json:"finished,omitzero"`
	Generation int       `json:"generation,omitempty"`
}

// LockHeldError is a deploy lock someone else holds: another deploy, or a
// Home Manager activation.
type LockHeldError struct {
	Info LockInfo
	// Raw is the holder's record as the host printed it.
	Raw string
}

func (e *LockHeldError) Error() string {
	if e.Info.Who != "" {
		return "the host is locked by " + e.Info.Who
	}
	return "the host is locked (" + strings.TrimSpace(e.Raw) + ")"
}

// AcquireDeployLock takes the deploy lock.
func (h *Host) AcquireDeployLock(ctx context.Context, info LockInfo, breakLock bool) error {
	data, err := json.Marshal(info)
	if err != nil {
		return err
	}
	o, err := h.run(ctx, scriptLockAcquire, true, strings.NewReader(string(data)), nil, boolArg(breakLock))
	if exitCode(err) == ExitHeld {
		le := &LockHeldError{Raw: o.stdout}
		_ = json.Unmarshal([]byte(o.stdout), &le.Info)
		return le
	}
	if err != nil {
		return fmt.Errorf("taking the lock %s: %w", DeployLockPath, err)
	}
	return nil
}

// ReleaseDeployLock releases the lock record.RunID holds and keeps record.
func (h *Host) ReleaseDeployLock(ctx context.Context, record LockInfo) error {
	data, err := json.Marshal(record)
	if err != nil {
		return err
	}
	_, err = h.run(ctx, scriptLockRelease, true, strings.NewReader(string(data)), nil, record.RunID)
	return err
}
