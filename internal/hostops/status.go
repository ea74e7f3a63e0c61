package hostops

import (
	"bufio"
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"time"
)

// Status is what a host runs, as the status script reads it.
type Status struct {
	NixOSVersion string
	Current      string
	Booted       string
	// RebootNeeded: the booted kernel, initrd or modules differ from the
	// current system's.
	RebootNeeded   bool
	Generation     int
	GenerationDate time.Time
	LastDeploy     *LockInfo
	Locked         *LockInfo
	// Watchdog is a magic-rollback watchdog still armed on the host.
	Watchdog *PendingWatchdog
}

// Status reads the host's status.
func (h *Host) Status(ctx context.Context) (Status, error) {
	o, err := h.run(ctx, scriptStatus, false, nil, nil)
	if err != nil {
		return Status{}, err
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
	st.Generation = ParseGenerationLink(kv["generation"])
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
