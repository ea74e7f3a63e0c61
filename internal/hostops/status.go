package hostops

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nixctl/nixctl/internal/nix"
)

// Status is what a host runs, as the status script reads it.
type Status struct {
	NixOSVersion string
	Current      string
	Booted       string
	// RebootNeeded: the booted kernel, initrd or modules differ from the
	// current system's.
	RebootNeeded bool
	// Parts are the current system's links that only a reboot brings in
	// (kernel, initrd, kernel-modules; systemd is re-executed): part → target.
	Parts          map[string]string
	Generation     int
	GenerationDate time.Time
	// Profile is the system the profile's current generation holds: what
	// the host boots next (nixos-rebuild boot changes only this).
	Profile    string
	LastDeploy *LockInfo
	Locked     *LockInfo
	// Watchdog is a magic-rollback watchdog still armed on the host.
	Watchdog *PendingWatchdog
	// Planned: a dry run's stand-in, nothing was read (see PrintConnector).
	Planned bool
}

// Status reads the host's status.
func (h *Host) Status(ctx context.Context) (Status, error) {
	o, err := h.run(ctx, scriptStatus, false, nil, nil)
	if err != nil {
		return Status{}, err
	}
	if _, ok := h.conn.(PrintConn); ok {
		return plannedStatus(h.name), nil
	}
	return parseStatus(o.stdout), nil
}

func parseStatus(out string) Status {
	var st Status
	kv := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			kv[k] = strings.TrimSpace(v)
		}
	}
	st.NixOSVersion = kv["version"]
	st.Current = kv["current"]
	st.Booted = kv["booted"]
	for _, f := range []string{"kernel", "initrd", "kernel-modules"} {
		if kv["boot_"+f] != "" && kv["cur_"+f] != kv["boot_"+f] {
			st.RebootNeeded = true
		}
	}
	st.Parts = map[string]string{}
	for _, f := range RebootParts {
		st.Parts[f] = kv["cur_"+f]
	}
	st.Generation = ParseGenerationLink(kv["generation"])
	st.Profile = kv["profile"]
	if sec, err := strconv.ParseInt(kv["generation_time"], 10, 64); err == nil {
		st.GenerationDate = time.Unix(sec, 0).UTC()
	}
	st.LastDeploy = parseRecord(kv["last"])
	st.Locked = parseRecord(kv["lock"])
	if v := kv["watchdog"]; v != "" {
		w := parseWatchdog(v)
		st.Watchdog = &w
	}
	return st
}

func parseRecord(v string) *LockInfo {
	if v == "" {
		return nil
	}
	var li LockInfo
	if json.Unmarshal([]byte(v), &li) != nil {
		return nil
	}
	return &li
}

// RebootParts are the links inside a NixOS toplevel whose change the
// running system cannot take in by switching.
var RebootParts = []string{"kernel", "initrd", "kernel-modules", "systemd"}

// ClosureDiff compares two closures in the host's own store: nix store
// diff-closures' output, and nix path-info --json --closure-size's.
func (h *Host) ClosureDiff(ctx context.Context, old, new string) (diff string, sizes []byte, err error) {
	for _, p := range []string{old, new} {
		if !nix.IsStorePath(p) {
			return "", nil, fmt.Errorf("refusing to compare %q: not a store path", p)
		}
	}
	o, err := h.run(ctx, scriptClosureDiff, false, nil, nil, old, new)
	if err != nil {
		return "", nil, err
	}
	d, s, ok := strings.Cut(o.stdout, "--nixctl-sizes--\n")
	if !ok {
		return "", nil, fmt.Errorf("on %s: nixctl-%s printed no sizes", h.name, scriptClosureDiff)
	}
	return d, []byte(s), nil
}
