package remote

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"regexp"
	"strings"

	"github.com/kevinburke/ssh_config"
)

// configFile is one parsed ssh_config file.
type configFile struct {
	path   string
	cfg    *ssh_config.Config
	blocks []block
}

// block is a Host or Match section; match says which name its patterns are
// held against.
type block struct {
	host *ssh_config.Host
	// isMatch: a "Match host" section, matched against the host name as
	// HostName has set it so far, where "Host" matches the name as given.
	isMatch bool
}

// ConfigError is an ssh_config file nixctl cannot read the way ssh would.
type ConfigError struct {
	Path string
	Err  error
}

func (e *ConfigError) Error() string { return fmt.Sprintf("reading %s: %v", e.Path, e.Err) }
func (e *ConfigError) Unwrap() error { return e.Err }

// Hint says what to change.
func (e *ConfigError) Hint() string {
	return "nixctl reads Host and Match host/originalhost/all sections and Include, as ssh does (ssh -G NAME shows what ssh makes of it); " +
		"Match exec, user and localuser cannot be evaluated here: write those hosts' settings under Host sections"
}

// originalhost is "Match originalhost P", which matches the name as given,
// exactly as "Host P" does; the parser knows only the latter.
var originalhost = regexp.MustCompile(`(?im)^([ \t]*)match([ \t]*=?[ \t]*)originalhost[ \t]`)

// loadConfig parses path; a missing file is nil, nil.
func loadConfig(path string) (*configFile, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, &ConfigError{Path: path, Err: err}
	}
	data = originalhost.ReplaceAll(data, []byte("${1}Host${2}"))
	cfg, err := ssh_config.DecodeBytes(data)
	if err != nil {
		return nil, &ConfigError{Path: path, Err: err}
	}
	f := &configFile{path: path, cfg: cfg}
	for _, h := range cfg.Hosts {
		head := strings.TrimLeft(h.String(), " \t")
		f.blocks = append(f.blocks, block{host: h, isMatch: len(h.Patterns) > 0 && hasPrefixFold(head, "match")})
	}
	return f, nil
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// lookup answers questions about one host name from the config files in
// the order ssh reads them: the first value found for a key wins, except
// for keys that accumulate (IdentityFile).
type lookup struct {
	name    string
	files   []*configFile
	matched [][]bool
}

// newLookup decides which sections apply to name. "Host" patterns see the
// name as given; "Match host" ones the host name that HostName lines above
// them have set, as OpenSSH evaluates them in one pass.
func newLookup(files []*configFile, name string) *lookup {
	l := &lookup{name: name, files: files}
	hostname := ""
	for _, f := range files {
		m := make([]bool, len(f.blocks))
		for i, b := range f.blocks {
			against := name
			if b.isMatch && hostname != "" {
				against = expandHostName(hostname, name)
			}
			m[i] = b.host.Matches(against)
			if m[i] && hostname == "" {
				hostname = firstValue(b.host, name, "HostName")
			}
		}
		l.matched = append(l.matched, m)
	}
	return l
}

func firstValue(h *ssh_config.Host, name, key string) string {
	for _, n := range h.Nodes {
		switch t := n.(type) {
		case *ssh_config.KV:
			if strings.EqualFold(t.Key, key) {
				return t.Value
			}
		case *ssh_config.Include:
			if v := t.Get(name, key); v != "" {
				return v
			}
		}
	}
	return ""
}

// get is the first value of key for the name ("" = unset).
func (l *lookup) get(key string) string {
	for fi, f := range l.files {
		for i, b := range f.blocks {
			if !l.matched[fi][i] {
				continue
			}
			if v := firstValue(b.host, l.name, key); v != "" {
				return v
			}
		}
	}
	return ""
}

// getAll is every value of key for the name, in order.
func (l *lookup) getAll(key string) []string {
	var out []string
	for fi, f := range l.files {
		for i, b := range f.blocks {
			if !l.matched[fi][i] {
				continue
			}
			for _, n := range b.host.Nodes {
				switch t := n.(type) {
				case *ssh_config.KV:
					if strings.EqualFold(t.Key, key) {
						out = append(out, t.Value)
					}
				case *ssh_config.Include:
					vs, _ := t.GetAll(l.name, key)
					out = append(out, vs...)
				}
			}
		}
	}
	return out
}

// expandHostName applies HostName's one token, %h (the name as given).
func expandHostName(v, name string) string {
	return strings.ReplaceAll(strings.ReplaceAll(v, "%h", name), "%%", "%")
}

// Aliases are the literal names of the Host sections (no wildcard, no
// negation), in the order ssh reads them: the names a user types after ssh.
func (s *SSH) Aliases() []string {
	var out []string
	seen := map[string]bool{}
	for _, f := range s.files {
		for _, b := range f.blocks {
			if b.isMatch {
				continue
			}
			for _, p := range b.host.Patterns {
				a := p.String()
				if a == "" || strings.ContainsAny(a, "*?!") || seen[strings.ToLower(a)] {
					continue
				}
				seen[strings.ToLower(a)] = true
				out = append(out, a)
			}
		}
	}
	return out
}
