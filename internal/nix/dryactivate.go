package nix

import (
	"bufio"
	"slices"
	"strings"
)

// UnitChanges is what `switch-to-configuration dry-activate` (reached
// through `nixos-rebuild dry-activate`) says activating a system would do
// to the host's systemd units.
type UnitChanges struct {
	Stop    []string `json:"stop"`
	Restart []string `json:"restart"`
	Reload  []string `json:"reload"`
	Start   []string `json:"start"`
	// Kept are changed units that would not be stopped (X-StopIfChanged=false
	// and the like): they keep running the old version.
	Kept []string `json:"kept"`
	// RestartSystemd: systemd itself would be re-executed.
	RestartSystemd bool `json:"restartSystemd"`
}

// Empty reports whether no unit would be touched.
func (u UnitChanges) Empty() bool {
	return len(u.Stop)+len(u.Restart)+len(u.Reload)+len(u.Start)+len(u.Kept) == 0 && !u.RestartSystemd
}

// The prefixes switch-to-configuration prints one line of comma-separated
// units after (the perl script and its Rust successor agree on them).
var dryActivateLists = []struct {
	prefix string
	field  func(*UnitChanges) *[]string
}{
	{"would stop the following units: ", func(u *UnitChanges) *[]string { return &u.Stop }},
	{"would NOT stop the following changed units: ", func(u *UnitChanges) *[]string { return &u.Kept }},
	{"would restart the following units: ", func(u *UnitChanges) *[]string { return &u.Restart }},
	{"would reload the following units: ", func(u *UnitChanges) *[]string { return &u.Reload }},
	{"would start the following units: ", func(u *UnitChanges) *[]string { return &u.Start }},
}

// ParseDryActivate reads the unit lines of a dry activation's output (its
// stdout and stderr together; other lines are ignored). Units are sorted.
func ParseDryActivate(out string) UnitChanges {
	u := UnitChanges{Stop: []string{}, Restart: []string{}, Reload: []string{}, Start: []string{}, Kept: []string{}}
	sc := bufio.NewScanner(strings.NewReader(StripANSI(out)))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "would restart systemd" {
			u.RestartSystemd = true
			continue
		}
		for _, l := range dryActivateLists {
			rest, ok := strings.CutPrefix(line, l.prefix)
			if !ok {
				continue
			}
			list := l.field(&u)
			for _, unit := range strings.Split(rest, ",") {
				if unit = strings.TrimSpace(unit); unit != "" && !slices.Contains(*list, unit) {
					*list = append(*list, unit)
				}
			}
			slices.Sort(*list)
		}
	}
	return u
}
