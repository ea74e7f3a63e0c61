package nix

import (
	"fmt"
	"regexp"
	"strconv"
)

// Release is a nix release, major.minor.
type Release struct{ Major, Minor int }

var versionRe = regexp.MustCompile(`^nix \([^)]*\) (\d+)\.(\d+)`)

// ParseRelease reads `nix --version` ("nix (Nix) 2.8.0", "nix (Nix) 2.24.10").
func ParseRelease(out string) (Release, error) {
	m := versionRe.FindStringSubmatch(out)
	if m == nil {
		return Release{}, fmt.Errorf("unrecognised nix --version output %q", out)
	}
	major, _ := strconv.Atoi(m[1])
	minor, _ := strconv.Atoi(m[2])
	return Release{major, minor}, nil
}

// AtLeast reports whether v is major.minor or newer.
func (v Release) AtLeast(major, minor int) bool {
	return v.Major > major || v.Major == major && v.Minor >= minor
}

func (v Release) String() string { return fmt.Sprintf("%d.%d", v.Major, v.Minor) }

// DrvInstallable names the outputs of a store derivation for nix build.
// Before 2.13 a bare .drv path means its outputs (2.8 rejects the ^ form as
// "not a valid URL"); from 2.13 on drv^* selects every output, and newer
// releases read a bare .drv path as the derivation file itself.
func DrvInstallable(drv string, v Release) string {
	if v.AtLeast(2, 13) {
		return drv + "^*"
	}
	return drv
}
