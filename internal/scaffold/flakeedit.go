package scaffold

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Markers in flake.nix say where new entries go and what they look like:
//
//	# nixctl:add-host NAME = mkHost "NAME";
//
// The new line, with NAME replaced, is inserted above the marker with the
// marker's indentation, so repositories in another style can declare their own.
const (
	hostMarker    = "nixctl:add-host"
	profileMarker = "nixctl:add-profile"
)

// errDefined says the attribute set already has an entry of that name.
var errDefined = errors.New("already defined")

var nixIdentRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_'-]*$`)

// nixAttr writes name as an attribute name, quoted when it is not a plain identifier.
func nixAttr(name string) string {
	if nixIdentRe.MatchString(name) {
		return name
	}
	return strconv.Quote(name)
}

// flakeEntry expands a marker's pattern: "NAME" in quotes becomes the quoted
// name, a leading NAME the attribute name, and any other NAME (in a path) the
// name itself. Names reaching here passed CheckName: no quote, '$' or space.
func flakeEntry(pattern, name string) string {
	s := strings.ReplaceAll(pattern, `"NAME"`, strconv.Quote(name))
	if rest, ok := strings.CutPrefix(s, "NAME"); ok {
		s = nixAttr(name) + rest
	}
	return strings.ReplaceAll(s, "NAME", name)
}

// insertFlakeEntry adds the entry for name above the marker in flake.nix.
func insertFlakeEntry(src []byte, marker, name string) ([]byte, string, error) {
	lines := strings.SplitAfter(string(src), "\n")
	for i, line := range lines {
		body := strings.TrimLeft(line, " \t")
		indent := line[:len(line)-len(body)]
		rest, ok := strings.CutPrefix(body, "# "+marker+" ")
		if !ok {
			continue
		}
		pattern := strings.TrimSpace(rest)
		if !strings.Contains(pattern, "NAME") {
			return nil, "", fmt.Errorf("flake.nix:%d: the %s marker has no NAME in its pattern", i+1, marker)
		}
		entry := flakeEntry(pattern, name)
		if attrDefined(blockAbove(lines, i, indent), nixAttr(name)) {
			return nil, "", errDefined
		}
		out := strings.Join(lines[:i], "") + indent + entry + "\n" + strings.Join(lines[i:], "")
		return []byte(out), entry, nil
	}
	return nil, "", fmt.Errorf("flake.nix has no '# %s' line saying where new entries go", marker)
}

// blockAbove returns the lines above line i that are indented at least as
// deep as the marker: the entries of the attribute set the marker closes.
func blockAbove(lines []string, i int, indent string) []string {
	start := i
	for start > 0 {
		l := lines[start-1]
		if strings.TrimSpace(l) != "" && !strings.HasPrefix(l, indent) {
			break
		}
		start--
	}
	return lines[start:i]
}

// attrDefined reports whether one of lines starts by defining attr.
func attrDefined(lines []string, attr string) bool {
	for _, l := range lines {
		l = strings.TrimSpace(l)
		if rest, ok := strings.CutPrefix(l, attr); ok && strings.HasPrefix(strings.TrimSpace(rest), "=") {
			return true
		}
	}
	return false
}
