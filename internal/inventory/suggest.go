package inventory

import "sort"

// Closest returns the candidates nearest to s by edit distance, best first,
// keeping only those close enough to be a plausible typo.
func Closest(s string, candidates []string, max int) []string {
	type scored struct {
		name string
		d    int
	}
	limit := len(s)/3 + 1
	if limit < 2 {
		limit = 2
	}
	var out []scored
	for _, c := range candidates {
		if d := distance(s, c); d <= limit {
			out = append(out, scored{c, d})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].d < out[j].d })
	var names []string
	for i := 0; i < len(out) && i < max; i++ {
		names = append(names, out[i].name)
	}
	return names
}

// distance is the Levenshtein distance between a and b, case-insensitive on
// ASCII so that "BuildHost" suggests "buildHost".
func distance(a, b string) int {
	ra, rb := []rune(lowerASCII(a)), []rune(lowerASCII(b))
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

func lowerASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 32
		}
	}
	return string(b)
}

func sortedCopy(s []string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}
