package nix

import (
	"bufio"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Generation is one line of `nix-env --list-generations`.
type Generation struct {
	Number  int       `json:"number"`
	Date    time.Time `json:"date"`
	Current bool      `json:"current"`
}

// ParseGenerations parses `nix-env --list-generations` output:
//
//	1   2026-11-25 21:48:05
//	2   2026-11-25 21:50:12   (current)
//
// Dates are local time on the machine that printed them.
func ParseGenerations(out string, loc *time.Location) ([]Generation, error) {
	if loc == nil {
		loc = time.Local
	}
	var gens []Generation
	sc := bufio.NewScanner(strings.NewReader(StripANSI(out)))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		if len(f) < 3 {
			return nil, fmt.Errorf("unexpected nix-env --list-generations line %q", sc.Text())
		}
		n, err := strconv.Atoi(f[0])
		if err != nil {
			return nil, fmt.Errorf("unexpected nix-env --list-generations line %q", sc.Text())
		}
		d, err := time.ParseInLocation("2006-01-02 15:04:05", f[1]+" "+f[2], loc)
		if err != nil {
			return nil, fmt.Errorf("unexpected date in nix-env --list-generations line %q", sc.Text())
		}
		gens = append(gens, Generation{Number: n, Date: d, Current: len(f) > 3 && f[3] == "(current)"})
	}
	return gens, nil
}
