package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/kevinburke/ssh_config"

	"github.com/nixctl/nixctl/internal/app"
	"github.com/nixctl/nixctl/internal/scaffold"
)

// sshConfigLookup reads the user's ~/.ssh/config for 'init --adopt' and
// 'inventory sync'. It is the one place to swap for internal/remote's full
// OpenSSH resolver (Include, Match, /etc/ssh/ssh_config) once that exists:
// guessing an address needs only the Host blocks the user wrote.
func sshConfigLookup(deps *app.Deps) scaffold.SSHLookup {
	home := deps.Home()
	data, err := os.ReadFile(filepath.Join(home, ".ssh", "config"))
	if err != nil {
		return nil
	}
	cfg, err := ssh_config.Decode(bytes.NewReader(data))
	if err != nil {
		deps.IO.Warnf("~/.ssh/config could not be read, so no address was taken from it: %v", err)
		return nil
	}
	return func(names ...string) (scaffold.SSHHost, bool) {
		aliases := literalAliases(cfg)
		// A Host named like the output first, then one whose HostName is it.
		for _, n := range names {
			for _, a := range aliases {
				if strings.EqualFold(a, n) {
					return sshHost(cfg, a, home), true
				}
			}
		}
		for _, n := range names {
			for _, a := range aliases {
				if hn, _ := cfg.Get(a, "HostName"); strings.EqualFold(hn, n) {
					return sshHost(cfg, a, home), true
				}
			}
		}
		return scaffold.SSHHost{}, false
	}
}

// literalAliases are the Host patterns without wildcards or negation: the
// names the user types after ssh.
func literalAliases(cfg *ssh_config.Config) []string {
	var out []string
	for _, h := range cfg.Hosts {
		for _, p := range h.Patterns {
			if s := p.String(); !strings.ContainsAny(s, "*?!") {
				out = append(out, s)
			}
		}
	}
	return out
}

// sshHost resolves alias as ssh would for the keys nixctl's inventory has
// (first value wins, across every matching block).
func sshHost(cfg *ssh_config.Config, alias, home string) scaffold.SSHHost {
	get := func(key string) string { v, _ := cfg.Get(alias, key); return strings.TrimSpace(v) }
	h := scaffold.SSHHost{Alias: alias, User: get("User"), ProxyJump: get("ProxyJump")}
	h.HostName = strings.ReplaceAll(get("HostName"), "%h", alias)
	if p, err := strconv.Atoi(get("Port")); err == nil {
		h.Port = p
	}
	if id := get("IdentityFile"); id != "" && !strings.Contains(id, "%") {
		if rest, ok := strings.CutPrefix(id, "~/"); ok {
			id = filepath.Join(home, rest)
		}
		h.IdentityFile = id
	}
	return h
}
