package inventory

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"unicode"
)

// Batch is the size of a rollout's batches: a number of hosts, or a
// percentage of the hosts deployed. The zero Batch means one batch.
type Batch struct {
	N       int
	Percent bool
}

// ParseBatch reads "5" or "25%"; problem says what is wrong ("" if nothing).
func ParseBatch(s string) (b Batch, problem string) {
	num, pct := strings.CutSuffix(strings.TrimSpace(s), "%")
	n, err := strconv.Atoi(num)
	switch {
	case err != nil || strings.HasPrefix(num, "+"):
		return Batch{}, fmt.Sprintf("%s is not a batch size: use a number of hosts (5) or a percentage (25%%)", printable(s))
	case pct && (n < 1 || n > 100):
		return Batch{}, fmt.Sprintf("%d%% is not a percentage between 1%% and 100%%", n)
	case n < 1:
		return Batch{}, fmt.Sprintf("a batch holds at least 1 host, got %d", n)
	}
	return Batch{N: n, Percent: pct}, ""
}

// Size is how many of total hosts go in each batch (at least 1; a
// percentage rounds up, so 10% of 5 hosts is 1 host at a time).
func (b Batch) Size(total int) int {
	switch {
	case b.N == 0:
		return max(total, 1)
	case b.Percent:
		return max((total*b.N+99)/100, 1)
	}
	return b.N
}

// IsZero reports whether no batch size was set.
func (b Batch) IsZero() bool { return b.N == 0 }

func (b Batch) String() string {
	if b.Percent {
		return strconv.Itoa(b.N) + "%"
	}
	if b.N == 0 {
		return ""
	}
	return strconv.Itoa(b.N)
}

// MarshalText writes the batch as it is written in nixctl.yaml.
func (b Batch) MarshalText() ([]byte, error) { return []byte(b.String()), nil }

// cacheSchemes are the nix store types a deployer pushes a binary cache to.
var cacheSchemes = map[string]bool{"file": true, "http": true, "https": true, "s3": true, "ssh": true, "ssh-ng": true, "gs": true}

// CheckCacheURL says why s cannot be a binary cache to push to ("" if it
// can): a store URL nix copy --to takes, which reaches its argv unquoted.
func CheckCacheURL(s string) string {
	u, err := url.Parse(s)
	bad := fmt.Sprintf("%s is not a binary cache URL nix copy --to takes (file:///srv/cache, s3://bucket, ssh://host, https://…)", printable(s))
	if err != nil || !cacheSchemes[u.Scheme] || strings.HasPrefix(s, "-") {
		return bad
	}
	if u.Scheme == "file" && !strings.HasPrefix(u.Path, "/") || u.Scheme != "file" && u.Host == "" {
		return bad
	}
	for _, r := range s {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			return bad
		}
	}
	return ""
}
