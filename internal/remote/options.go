package remote

import (
	"fmt"
	"strings"
)

// cmdline holds ssh command-line options as ssh applies them: the first
// value of a key wins, identity files accumulate.
type cmdline struct {
	values     map[string]string
	identities []string
	// userSource is "config" once the user was taken from ssh_config.
	userSource string
	// configFile is -F's value.
	configFile string
}

func (c *cmdline) get(key string) (string, bool) {
	v, ok := c.values[key]
	return v, ok
}

func (c *cmdline) has(key string) bool {
	_, ok := c.values[key]
	return ok
}

func (c *cmdline) setOnce(key, v string) {
	if _, ok := c.values[key]; !ok {
		c.values[key] = v
	}
}

// merge adds o's options after c's.
func (c *cmdline) merge(o *cmdline) {
	for k, v := range o.values {
		c.setOnce(k, v)
	}
	c.identities = append(c.identities, o.identities...)
}

// flagKeys are the ssh flags that stand for a configuration keyword.
var flagKeys = map[string]string{"p": "port", "l": "user", "J": "proxyjump", "F": "-F"}

// flagsWithValue are the other ssh flags that take a value: passed to the
// system ssh as they are, without meaning for nixctl's own connections.
const flagsWithValue = "BbcDEeIiLmOoQRSWw"

// parseOptions reads ssh options as written on ssh's command line (or in
// NIX_SSHOPTS): -o Key=Value (or -oKey=Value, Key Value), -p, -l, -i, -J.
// Other flags are accepted and left to the system ssh.
func parseOptions(args []string) (*cmdline, error) {
	c := &cmdline{values: map[string]string{}}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if len(a) < 2 || a[0] != '-' {
			return nil, fmt.Errorf("ssh option %q is not a flag: write options such as -o Key=Value, -p PORT, -J HOST", a)
		}
		flag := a[1:2]
		key, known := flagKeys[flag]
		if !known && !strings.Contains(flagsWithValue, flag) {
			// Boolean flags (-A, -C, -4, -q, -v…), possibly grouped.
			continue
		}
		val := a[2:]
		if val == "" {
			if i+1 >= len(args) {
				return nil, fmt.Errorf("ssh option %s needs a value", a)
			}
			i++
			val = args[i]
		}
		switch {
		case flag == "F":
			c.configFile = val
		case flag == "i":
			c.identities = append(c.identities, val)
		case flag == "o":
			k, v, ok := splitKV(val)
			if !ok {
				return nil, fmt.Errorf("ssh option -o %q is not Key=Value", val)
			}
			if k == "identityfile" {
				c.identities = append(c.identities, v)
			} else {
				c.setOnce(k, v)
			}
		case known:
			c.setOnce(key, val)
		}
	}
	return c, nil
}

// splitKV reads "Key=Value" or "Key Value"; the key comes back lowercase.
func splitKV(s string) (key, val string, ok bool) {
	i := strings.IndexAny(s, "= \t")
	if i <= 0 {
		return "", "", false
	}
	key = strings.ToLower(s[:i])
	val = strings.TrimLeft(s[i:], "= \t")
	return key, strings.Trim(val, `"`), val != ""
}
