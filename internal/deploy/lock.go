package deploy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"syscall"
	"time"

	"github.com/nixctl/nixctl/internal/remote"
)

// Remote state lives under /var/lib/nixctl on each host: the lock directory
// while a deploy runs (mkdir is atomic), and the record of the last deploy,
// which nixctl status reads. Every remote script takes the filesystem root
// as $1 from ${NIXCTL_TESTONLY_ROOT:-}, a hook that lets tests on a machine
// that is not NixOS keep these paths in a temp dir; it is empty in real use.
const (
	lockDir        = "/var/lib/nixctl/deploy.lock"
	lastDeployFile = "/var/lib/nixctl/last-deploy.json"
)

// lockExitHeld is the exit code of the acquire script when the lock is held:
// by another deploy, or by a remote Home Manager activation (nixctl home
// switch holds an flock(1) on the directory <root>/run/lock/nixctl, or
// <root>/tmp/nixctl, while it activates; see internal/home/remote.go). Each
// side takes its own lock, then looks at the other's, so the two never run
// at once.
const lockExitHeld = 75

const acquireScript = `d="$1/var/lib/nixctl"
mkdir -p "$d" || exit 1
if [ "$2" = 1 ]; then rm -rf "$d/deploy.lock"; fi
if mkdir "$d/deploy.lock" 2>/dev/null; then
  for h in "$1/run/lock/nixctl" "$1/tmp/nixctl"; do
    if [ -d "$h" ] && command -v flock >/dev/null 2>&1 && ! flock -n "$h" true 2>/dev/null; then
      rmdir "$d/deploy.lock"
      echo '{"who":"a Home Manager activation (nixctl home switch)","action":"home switch"}'
      exit 75
    fi
  done
  cat >"$d/deploy.lock/info" && exit 0; exit 1
fi
cat "$d/deploy.lock/info" 2>/dev/null
exit 75`

const releaseScript = `d="$1/var/lib/nixctl"
grep -qF -- "$2" "$d/deploy.lock/info" 2>/dev/null || exit 0
if [ ! -e "$d/last-deploy.json" ] || [ -f "$d/last-deploy.json" ]; then
  cat >"$d/last-deploy.json.tmp" && chmod 644 "$d/last-deploy.json.tmp" && mv -f "$d/last-deploy.json.tmp" "$d/last-deploy.json"
fi
rm -rf "$d/deploy.lock"`

const generationScript = `readlink "$1/nix/var/nix/profiles/system"`

// switchGenerationScript is what nixos-rebuild switch --rollback does, for a
// chosen generation.
const switchGenerationScript = `p="$1/nix/var/nix/profiles/system"
nix-env -p "$p" --switch-generation "$2" && "$p/bin/switch-to-configuration" switch`

// reactivateProfileScript undoes nixos-rebuild test: the system profile
// still points at what was active before, so activate it again.
const reactivateProfileScript = `"$1/nix/var/nix/profiles/system/bin/switch-to-configuration" test`

// elevated is a remote command line running script with sh, the state root
// as $1 and args after it, through sudo -n when elevate is set.
func elevated(elevate bool, script string, args ...string) string {
	cmd := remote.ShellJoin("sh", "-c", script, "nixctl") + ` "${NIXCTL_TESTONLY_ROOT:-}"`
	if len(args) > 0 {
		cmd += " " + remote.ShellJoin(args...)
	}
	if elevate {
		return "sudo -n " + cmd
	}
	return cmd
}

// LockInfo is who holds a host, written into the lock and, with the result,
// into the last-deploy record.
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
		return fmt.Sprintf("the lock was left behind (%s on the host): pass --break-lock to take it over", lockDir)
	}
	if e.Info.Action == "home switch" {
		return "a Home Manager profile is being activated on the host: deploy again when it is done"
	}
	return fmt.Sprintf("wait for that deploy to finish; if it is no longer running, pass --break-lock (the lock is %s on the host)", lockDir)
}

// acquireLock takes the host's lock, or reports its holder.
func acquireLock(ctx context.Context, s remote.Session, h HostPlan, info LockInfo, breakLock bool) error {
	data, _ := json.Marshal(info)
	brk := "0"
	if breakLock {
		brk = "1"
	}
	res, err := s.Run(ctx, elevated(h.Elevate, acquireScript, brk), strings.NewReader(string(data)))
	if err == nil {
		return nil
	}
	var ee *remote.ExitError
	if errors.As(err, &ee) && ee.ExitCode == lockExitHeld && res != nil {
		le := &LockedError{Host: h.Host.Name, Raw: string(res.Stdout)}
		_ = json.Unmarshal(res.Stdout, &le.Info)
		le.Stale = le.Info.Who == info.Who && le.Info.PID > 0 && le.Info.PID != info.PID && !running(le.Info.PID)
		return le
	}
	return fmt.Errorf("taking the lock %s: %w", lockDir, err)
}

// releaseLock removes the lock if this run holds it and records the result.
func releaseLock(ctx context.Context, s remote.Session, h HostPlan, record LockInfo) error {
	data, _ := json.Marshal(record)
	_, err := s.Run(ctx, elevated(h.Elevate, releaseScript, record.RunID), strings.NewReader(string(data)))
	return err
}

// currentGeneration reads the system profile's generation number (0 when
// it cannot be read).
func currentGeneration(ctx context.Context, s remote.Session) int {
	res, err := s.Run(ctx, elevated(false, generationScript), nil)
	if err != nil {
		return 0
	}
	return parseGenerationLink(strings.TrimSpace(string(res.Stdout)))
}

// parseGenerationLink reads "system-42-link" as 42.
func parseGenerationLink(s string) int {
	s = s[strings.LastIndex(s, "/")+1:]
	var n int
	if _, err := fmt.Sscanf(s, "system-%d-link", &n); err != nil {
		return 0
	}
	return n
}

// running reports whether process pid exists on this machine (one of
// another user's counts: kill answers EPERM, not ESRCH).
func running(pid int) bool {
	return !errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}
