package eval

import (
	"bufio"
	"os"
	"runtime"
	"strconv"
	"strings"
)

// perProcessMemory is what one nix process evaluating NixOS hosts over
// nixpkgs holds at its peak, about: the memory estimate behind DefaultJobs.
const perProcessMemory = 2 << 30

// DefaultJobs is the number of nix evaluations run at once when the user
// does not say: one per core, as far as the available memory allows
// (perProcessMemory each), and at least one.
func DefaultJobs() int {
	return jobsFor(runtime.NumCPU(), memAvailable())
}

func jobsFor(cpus int, avail uint64) int {
	n := max(cpus, 1)
	if avail > 0 {
		n = min(n, int(avail/perProcessMemory))
	}
	return max(n, 1)
}

// memAvailable reads MemAvailable from /proc/meminfo in bytes (0 when
// unknown: not Linux, or no such line).
func memAvailable() uint64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "MemAvailable:")
		if !ok {
			continue
		}
		kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		if err != nil {
			return 0
		}
		return kb << 10
	}
	return 0
}
