package nix

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
)

// Kinds of a closure change.
const (
	ChangeAdded   = "added"
	ChangeRemoved = "removed"
	ChangeChanged = "changed"
)

// ClosureChange is one line of `nix store diff-closures`: a package whose
// versions or size differ between two closures.
type ClosureChange struct {
	Package string `json:"package"`
	Kind    string `json:"kind"`
	// Old and New are the versions only in the old or the new closure
	// ("" is a store path without a version, which nix shows as ε).
	Old []string `json:"old"`
	New []string `json:"new"`
	// SizeDelta is in bytes; nix only shows changes of 8 KiB or more, so 0
	// means "small or none".
	SizeDelta int64 `json:"sizeDelta"`
}

// "+25.3 KiB" at the end of a line.
var sizeRe = regexp.MustCompile(`(?:^|, )([+-]\d+(?:\.\d+)?) KiB$`)

// ParseDiffClosures parses `nix store diff-closures` output, e.g.
//
//	foo: 1.0 → 1.1, +25.3 KiB
//	bar: 2.0 → ∅, -16.6 KiB
//	baz: ∅ → 3.0
//	qux: +12.0 KiB
//
// Nix colours it even when piped: codes are stripped first. Lines that do not
// look like a change are ignored.
func ParseDiffClosures(out string) []ClosureChange {
	var changes []ClosureChange
	sc := bufio.NewScanner(strings.NewReader(StripANSI(out)))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		name, rest, ok := strings.Cut(line, ": ")
		if !ok || name == "" {
			continue
		}
		c := ClosureChange{Package: name}
		if m := sizeRe.FindStringSubmatchIndex(rest); m != nil {
			kib, _ := strconv.ParseFloat(rest[m[2]:m[3]], 64)
			c.SizeDelta = int64(math.Round(kib * 1024))
			rest = rest[:m[0]]
		}
		if oldV, newV, ok := strings.Cut(rest, " → "); ok {
			c.Old, c.New = parseVersions(oldV), parseVersions(newV)
		} else if rest != "" || c.SizeDelta == 0 {
			continue
		}
		switch {
		case len(c.Old) == 0 && len(c.New) > 0:
			c.Kind = ChangeAdded
		case len(c.New) == 0 && len(c.Old) > 0:
			c.Kind = ChangeRemoved
		default:
			c.Kind = ChangeChanged
		}
		if c.Old == nil {
			c.Old = []string{}
		}
		if c.New == nil {
			c.New = []string{}
		}
		changes = append(changes, c)
	}
	return changes
}

func parseVersions(s string) []string {
	s = strings.TrimSpace(s)
	if s == "∅" || s == "" {
		return nil
	}
	var vs []string
	for _, v := range strings.Split(s, ", ") {
		if v == "ε" {
			v = ""
		}
		vs = append(vs, v)
	}
	return vs
}

// String renders a change as one line: "foo 1.0 → 1.1 (+25.3 KiB)".
func (c ClosureChange) String() string {
	s := c.Package
	switch c.Kind {
	case ChangeAdded:
		s = "+ " + s + " " + showVersions(c.New)
	case ChangeRemoved:
		s = "- " + s + " " + showVersions(c.Old)
	default:
		s = "~ " + s
		if len(c.Old) > 0 || len(c.New) > 0 {
			s += " " + showVersions(c.Old) + " → " + showVersions(c.New)
		}
	}
	if c.SizeDelta != 0 {
		s += " (" + FormatSizeDelta(c.SizeDelta) + ")"
	}
	return strings.TrimSpace(s)
}

func showVersions(vs []string) string {
	if len(vs) == 0 {
		return "∅"
	}
	out := make([]string, len(vs))
	for i, v := range vs {
		if v == "" {
			v = "ε"
		}
		out[i] = v
	}
	return strings.Join(out, ", ")
}

// FormatSizeDelta renders a byte delta with a sign: "+1.5 MiB", "-16.6 KiB".
func FormatSizeDelta(b int64) string {
	sign := "+"
	if b < 0 {
		sign, b = "-", -b
	}
	f := float64(b)
	for _, unit := range []string{"B", "KiB", "MiB", "GiB"} {
		if f < 1024 || unit == "GiB" {
			if unit == "B" {
				return fmt.Sprintf("%s%d B", sign, b)
			}
			return fmt.Sprintf("%s%.1f %s", sign, f, unit)
		}
		f /= 1024
	}
	return ""
}

// PathInfo is one entry of `nix path-info --json`.
type PathInfo struct {
	Path        string `json:"path"`
	NarSize     int64  `json:"narSize"`
	ClosureSize int64  `json:"closureSize"`
}

// ParsePathInfo parses `nix path-info --json` (Nix 2.8 prints a list; newer
// versions an object keyed by path: both are accepted).
func ParsePathInfo(out []byte) ([]PathInfo, error) {
	var list []PathInfo
	if err := json.Unmarshal(out, &list); err == nil {
		return list, nil
	}
	var byPath map[string]*PathInfo
	if err := json.Unmarshal(out, &byPath); err != nil {
		return nil, fmt.Errorf("parsing nix path-info output: %w", err)
	}
	for p, info := range byPath {
		if info == nil {
			continue
		}
		info.Path = p
		list = append(list, *info)
	}
	return list, nil
}
