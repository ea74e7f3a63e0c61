package inventory

import (
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// MaxFileSize bounds what Parse reads: an inventory is a few kilobytes; a huge
// file is a mistake or an attack, refused before parsing.
const MaxFileSize = 1 << 20

// maxDepth bounds nesting; the schema is at most five levels deep.
const maxDepth = 16

// Parse reads and validates an inventory. file is used in messages and to
// resolve relative paths. Every problem is reported in one *ValidationError.
func Parse(file string, data []byte) (*Fleet, error) {
	return ParseAt(file, file, data)
}

// ParseAt is Parse for a file named display in messages but found at path.
func ParseAt(display, path string, data []byte) (*Fleet, error) {
	d := &decoder{file: display}
	dir := filepath.Dir(path)
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	f := &Fleet{File: path, Dir: dir}
	f.Defaults = Defaults{Parallel: 4, Rebuild: "auto"}
	f.Secrets = Secrets{Dir: "secrets", SopsConfig: ".sops.yaml"}
	if len(data) > MaxFileSize {
		d.addf(0, "", "file is %d bytes; an inventory is at most %d", len(data), MaxFileSize)
		return nil, d.err()
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		d.addf(yamlErrLine(err), "", "not valid YAML: %s", strings.TrimPrefix(err.Error(), "yaml: "))
		return nil, d.err()
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		d.addf(0, "", "the file is empty; it needs at least a hosts: or profiles: list")
		return nil, d.err()
	}
	root := doc.Content[0]
	if depth(root) > maxDepth {
		d.addf(root.Line, "", "nesting deeper than %d levels; an inventory needs at most 5", maxDepth)
		return nil, d.err()
	}
	flake := ""
	d.mapping(root, "", map[string]func(*yaml.Node){
		"flake":    func(n *yaml.Node) { flake = d.str(n, "flake") },
		"defaults": func(n *yaml.Node) { d.defaults(n, &f.Defaults) },
		"hosts": func(n *yaml.Node) {
			for i, item := range d.seq(n, "hosts") {
				f.Hosts = append(f.Hosts, d.host(item, fmt.Sprintf("hosts[%d]", i)))
			}
		},
		"profiles": func(n *yaml.Node) {
			for i, item := range d.seq(n, "profiles") {
				f.Profiles = append(f.Profiles, d.profile(item, fmt.Sprintf("profiles[%d]", i)))
			}
		},
		"secrets": func(n *yaml.Node) { d.secrets(n, &f.Secrets) },
	})
	f.Flake = resolveFlake(flake, dir)
	for i := range f.Hosts {
		inherit(&f.Hosts[i], f.Defaults)
	}
	for i := range f.Profiles {
		if f.Profiles[i].Attr == "" {
			f.Profiles[i].Attr = f.Profiles[i].Name
		}
	}
	d.crossCheck(f)
	if err := d.err(); err != nil {
		return nil, err
	}
	return f, nil
}

// resolveFlake turns the inventory's flake reference into what nix takes: a
// local directory becomes an absolute path; a URL-like reference is kept.
func resolveFlake(ref, dir string) string {
	if ref == "" || ref == "." {
		return dir
	}
	if strings.Contains(ref, ":") && !strings.HasPrefix(ref, "/") && !strings.HasPrefix(ref, ".") {
		if strings.HasPrefix(ref, "path:") {
			p := strings.TrimPrefix(ref, "path:")
			if !filepath.IsAbs(p) {
				return "path:" + filepath.Join(dir, p)
			}
		}
		return ref
	}
	if filepath.IsAbs(ref) {
		return filepath.Clean(ref)
	}
	return filepath.Join(dir, ref)
}

func inherit(h *Host, d Defaults) {
	if h.Attr == "" {
		h.Attr = h.Name
	}
	if h.User == "" {
		h.User = d.User
	}
	if h.Port == 0 {
		h.Port = d.Port
	}
	if !h.sudoSet {
		h.Sudo = d.Sudo
	}
	if h.BuildHost == "" {
		h.BuildHost = d.BuildHost
	}
	if h.SSHOptions == nil {
		h.SSHOptions = d.SSHOptions
	}
	if h.Identity == "" {
		h.Identity = d.Identity
	}
	if h.Rebuild == "" {
		h.Rebuild = d.Rebuild
	}
	if h.MagicRollback == nil {
		h.MagicRollback = d.MagicRollback
	}
	if h.ConfirmTimeout == 0 {
		h.ConfirmTimeout = d.ConfirmTimeout
	}
}

type decoder struct {
	file     string
	problems []Problem
}

func (d *decoder) addf(line int, field, format string, args ...any) {
	d.problems = append(d.problems, Problem{File: d.file, Line: line, Field: field, Msg: fmt.Sprintf(format, args...)})
}

func (d *decoder) err() error {
	if len(d.problems) == 0 {
		return nil
	}
	sort.SliceStable(d.problems, func(i, j int) bool { return d.problems[i].Line < d.problems[j].Line })
	return &ValidationError{File: d.file, Problems: d.problems}
}

// mapping walks a YAML mapping, calling the handler of each known key and
// reporting unknown and repeated keys (keys are case-sensitive).
func (d *decoder) mapping(n *yaml.Node, path string, fields map[string]func(*yaml.Node)) {
	if n.Kind != yaml.MappingNode {
		d.addf(n.Line, orTop(path), "must be a mapping of keys to values, got %s", kindName(n))
		return
	}
	known := make([]string, 0, len(fields))
	for k := range fields {
		known = append(known, k)
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		key := k.Value
		field := join(path, key)
		if prev, dup := seen[key]; dup {
			d.addf(k.Line, field, "key repeated (first at line %d)", prev)
			continue
		}
		seen[key] = k.Line
		h, ok := fields[key]
		if !ok {
			msg := "unknown key"
			if s := Closest(key, known, 1); len(s) > 0 {
				msg += fmt.Sprintf("; did you mean %q?", s[0])
			} else {
				msg += " (known: " + strings.Join(sortedCopy(known), ", ") + ")"
			}
			d.addf(k.Line, field, "%s", msg)
			continue
		}
		h(v)
	}
}

func (d *decoder) seq(n *yaml.Node, field string) []*yaml.Node {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		d.addf(n.Line, field, "must be a list, got %s", kindName(n))
		return nil
	}
	return n.Content
}

func (d *decoder) str(n *yaml.Node, field string) string {
	if n.Kind != yaml.ScalarNode {
		d.addf(n.Line, field, "must be a string, got %s", kindName(n))
		return ""
	}
	if n.Tag == "!!null" {
		return ""
	}
	return n.Value
}

func (d *decoder) strs(n *yaml.Node, field string) []string {
	var out []string
	for i, item := range d.seq(n, field) {
		out = append(out, d.str(item, fmt.Sprintf("%s[%d]", field, i)))
	}
	if out == nil {
		out = []string{}
	}
	return out
}

func (d *decoder) boolean(n *yaml.Node, field string) bool {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
		d.addf(n.Line, field, "must be true or false, got %q", n.Value)
		return false
	}
	v, _ := strconv.ParseBool(strings.ToLower(n.Value))
	return v
}

func (d *decoder) integer(n *yaml.Node, field string) int {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!int" {
		d.addf(n.Line, field, "must be a whole number, got %q", n.Value)
		return 0
	}
	v, err := strconv.Atoi(n.Value)
	if err != nil {
		d.addf(n.Line, field, "must be a whole number, got %q", n.Value)
	}
	return v
}

func (d *decoder) port(n *yaml.Node, field string) int {
	p := d.integer(n, field)
	if p != 0 && (p < 1 || p > 65535) {
		d.addf(n.Line, field, "port %d is out of range 1-65535", p)
	} else if p == 0 && n.Tag == "!!int" {
		d.addf(n.Line, field, "port 0 is out of range 1-65535")
	}
	return p
}

func (d *decoder) defaults(n *yaml.Node, def *Defaults) {
	d.mapping(n, "defaults", map[string]func(*yaml.Node){
		"user":      func(v *yaml.Node) { def.User = d.check(v, "defaults.user", d.str(v, "defaults.user"), validUser) },
		"port":      func(v *yaml.Node) { def.Port = d.port(v, "defaults.port") },
		"sudo":      func(v *yaml.Node) { def.Sudo = d.boolean(v, "defaults.sudo") },
		"buildHost": func(v *yaml.Node) { def.BuildHost = d.str(v, "defaults.buildHost") },
		"parallel": func(v *yaml.Node) {
			def.Parallel = d.integer(v, "defaults.parallel")
			if def.Parallel < 1 || def.Parallel > 1000 {
				d.addf(v.Line, "defaults.parallel", "must be between 1 and 1000, got %d", def.Parallel)
			}
		},
		"sshOptions": func(v *yaml.Node) { def.SSHOptions = d.sshOptions(v, "defaults.sshOptions") },
		"identity": func(v *yaml.Node) {
			def.Identity = d.check(v, "defaults.identity", d.str(v, "defaults.identity"), validPath)
		},
		"rebuild": func(v *yaml.Node) {
			def.Rebuild = d.check(v, "defaults.rebuild", d.str(v, "defaults.rebuild"), validRebuild)
		},
		"magicRollback":      func(v *yaml.Node) { def.MagicRollback = d.optBool(v, "defaults.magicRollback") },
		"confirmTimeout":     func(v *yaml.Node) { def.ConfirmTimeout = d.duration(v, "defaults.confirmTimeout") },
		"substituteOnTarget": func(v *yaml.Node) { def.SubstituteOnTarget = d.boolean(v, "defaults.substituteOnTarget") },
		"batch":              func(v *yaml.Node) { def.Batch = d.batch(v, "defaults.batch") },
		"cache": func(v *yaml.Node) {
			def.Cache = d.check(v, "defaults.cache", d.str(v, "defaults.cache"), CheckCacheURL)
		},
	})
}

// batch reads a batch size: 5 (an integer) or "25%".
func (d *decoder) batch(n *yaml.Node, field string) Batch {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!int" && n.Tag != "!!str" {
		d.addf(n.Line, field, "must be a number of hosts (5) or a percentage (25%%)")
		return Batch{}
	}
	b, problem := ParseBatch(n.Value)
	if problem != "" {
		d.addf(n.Line, field, "%s", problem)
	}
	return b
}

func (d *decoder) host(n *yaml.Node, path string) Host {
	// No tags is an empty list, which --json prints as [], not null.
	h := Host{Line: n.Line, Tags: []string{}}
	var sawSudo bool
	d.mapping(n, path, map[string]func(*yaml.Node){
		"name":           func(v *yaml.Node) { h.Name = d.str(v, path+".name") },
		"address":        func(v *yaml.Node) { h.Address = d.str(v, path+".address") },
		"attr":           func(v *yaml.Node) { h.Attr = d.check(v, path+".attr", d.str(v, path+".attr"), validAttr) },
		"user":           func(v *yaml.Node) { h.User = d.check(v, path+".user", d.str(v, path+".user"), validUser) },
		"port":           func(v *yaml.Node) { h.Port = d.port(v, path+".port") },
		"sudo":           func(v *yaml.Node) { h.Sudo, sawSudo = d.boolean(v, path+".sudo"), true },
		"tags":           func(v *yaml.Node) { h.Tags = d.tags(v, path+".tags") },
		"buildHost":      func(v *yaml.Node) { h.BuildHost = d.str(v, path+".buildHost") },
		"sshOptions":     func(v *yaml.Node) { h.SSHOptions = d.sshOptions(v, path+".sshOptions") },
		"identity":       func(v *yaml.Node) { h.Identity = d.check(v, path+".identity", d.str(v, path+".identity"), validPath) },
		"rebuild":        func(v *yaml.Node) { h.Rebuild = d.check(v, path+".rebuild", d.str(v, path+".rebuild"), validRebuild) },
		"magicRollback":  func(v *yaml.Node) { h.MagicRollback = d.optBool(v, path+".magicRollback") },
		"confirmTimeout": func(v *yaml.Node) { h.ConfirmTimeout = d.duration(v, path+".confirmTimeout") },
		"secrets":        func(v *yaml.Node) { h.Secrets = d.secretGlobs(v, path+".secrets") },
		"health": func(v *yaml.Node) {
			for i, item := range d.seq(v, path+".health") {
				h.Health = append(h.Health, d.health(item, fmt.Sprintf("%s.health[%d]", path, i)))
			}
		},
	})
	if n.Kind != yaml.MappingNode {
		return h
	}
	label := path
	if h.Name != "" {
		label = fmt.Sprintf("%s (%s)", path, h.Name)
	}
	if h.Name == "" {
		d.addf(n.Line, path+".name", "required")
	} else if msg := validName(h.Name); msg != "" {
		d.addf(n.Line, path+".name", "%s", msg)
	}
	if h.Address == "" {
		d.addf(n.Line, label+".address", "required: the DNS name or IP address nixctl reaches the host at")
	} else if msg := validAddress(h.Address); msg != "" {
		d.addf(n.Line, label+".address", "%s", msg)
	}
	h.sudoSet = sawSudo
	return h
}

func (d *decoder) health(n *yaml.Node, path string) Health {
	var h Health
	set := 0
	d.mapping(n, path, map[string]func(*yaml.Node){
		"tcp":          func(v *yaml.Node) { h.TCP = d.str(v, path+".tcp"); set++ },
		"http":         func(v *yaml.Node) { h.HTTP = d.str(v, path+".http"); set++ },
		"command":      func(v *yaml.Node) { h.Command = d.str(v, path+".command"); set++ },
		"expectStatus": func(v *yaml.Node) { h.ExpectStatus = d.integer(v, path+".expectStatus") },
		"timeout":      func(v *yaml.Node) { h.Timeout = d.duration(v, path+".timeout") },
	})
	if n.Kind != yaml.MappingNode {
		return h
	}
	if set != 1 {
		d.addf(n.Line, path, "a health check has exactly one of tcp, http or command")
		return h
	}
	switch {
	case h.TCP != "":
		if msg := validTCP(h.TCP); msg != "" {
			d.addf(n.Line, path+".tcp", "%s", msg)
		}
	case h.HTTP != "":
		if msg := validHTTP(h.HTTP); msg != "" {
			d.addf(n.Line, path+".http", "%s", msg)
		}
		if h.ExpectStatus == 0 {
			h.ExpectStatus = 200
		} else if h.ExpectStatus < 100 || h.ExpectStatus > 599 {
			d.addf(n.Line, path+".expectStatus", "must be an HTTP status between 100 and 599, got %d", h.ExpectStatus)
		}
	case h.Command != "":
		if msg := validCommand(h.Command); msg != "" {
			d.addf(n.Line, path+".command", "%s", msg)
		}
	default:
		d.addf(n.Line, path, "the check's target is empty")
	}
	if h.ExpectStatus != 0 && h.HTTP == "" {
		d.addf(n.Line, path+".expectStatus", "only applies to http checks")
	}
	return h
}

func (d *decoder) profile(n *yaml.Node, path string) Profile {
	p := Profile{Line: n.Line, Tags: []string{}}
	d.mapping(n, path, map[string]func(*yaml.Node){
		"name": func(v *yaml.Node) { p.Name = d.str(v, path+".name") },
		"attr": func(v *yaml.Node) { p.Attr = d.check(v, path+".attr", d.str(v, path+".attr"), validAttr) },
		"user": func(v *yaml.Node) { p.User = d.check(v, path+".user", d.str(v, path+".user"), validUser) },
		"host": func(v *yaml.Node) { p.Host = d.str(v, path+".host") },
		"backupExtension": func(v *yaml.Node) {
			p.BackupExtension = d.check(v, path+".backupExtension", d.str(v, path+".backupExtension"), validExtension)
		},
		"tags":    func(v *yaml.Node) { p.Tags = d.tags(v, path+".tags") },
		"secrets": func(v *yaml.Node) { p.Secrets = d.secretGlobs(v, path+".secrets") },
		"recipient": func(v *yaml.Node) {
			p.Recipient = d.check(v, path+".recipient", d.str(v, path+".recipient"), validRecipientName)
		},
	})
	if n.Kind != yaml.MappingNode {
		return p
	}
	if p.Name == "" {
		d.addf(n.Line, path+".name", "required")
	} else if msg := validName(p.Name); msg != "" {
		d.addf(n.Line, path+".name", "%s", msg)
	}
	return p
}

func (d *decoder) secrets(n *yaml.Node, s *Secrets) {
	d.mapping(n, "secrets", map[string]func(*yaml.Node){
		"dir": func(v *yaml.Node) { s.Dir = d.check(v, "secrets.dir", d.str(v, "secrets.dir"), validRelPath) },
		"sopsConfig": func(v *yaml.Node) {
			s.SopsConfig = d.check(v, "secrets.sopsConfig", d.str(v, "secrets.sopsConfig"), validRelPath)
		},
	})
}

func (d *decoder) tags(n *yaml.Node, field string) []string {
	tags := d.strs(n, field)
	for i, t := range tags {
		if msg := validTag(t); msg != "" {
			d.addf(n.Line, fmt.Sprintf("%s[%d]", field, i), "%s", msg)
		}
	}
	return tags
}

func (d *decoder) sshOptions(n *yaml.Node, field string) []string {
	opts := d.strs(n, field)
	for i, o := range opts {
		if msg := validSSHOption(o); msg != "" {
			d.addf(n.Line, fmt.Sprintf("%s[%d]", field, i), "%s", msg)
		}
	}
	return opts
}

// check validates s with fn, recording a problem at n's line.
func (d *decoder) check(n *yaml.Node, field, s string, fn func(string) string) string {
	if s == "" {
		return s
	}
	if msg := fn(s); msg != "" {
		d.addf(n.Line, field, "%s", msg)
	}
	return s
}

// crossCheck finds problems that span entries: duplicates and references.
func (d *decoder) crossCheck(f *Fleet) {
	hostNames := map[string]int{}
	for i, h := range f.Hosts {
		if h.Name == "" {
			continue
		}
		if prev, dup := hostNames[h.Name]; dup {
			d.addf(h.Line, fmt.Sprintf("hosts[%d].name", i), "duplicate host name %q (first at line %d)", h.Name, prev)
		}
		hostNames[h.Name] = h.Line
	}
	names := make([]string, 0, len(f.Hosts))
	for _, h := range f.Hosts {
		names = append(names, h.Name)
	}
	checkBuildHost := func(line int, field, bh string) {
		if bh == "" {
			return
		}
		if _, ok := hostNames[bh]; ok {
			return
		}
		if msg := validUserAtAddress(bh); msg != "" {
			d.addf(line, field, "%q is neither a host of this inventory nor user@address%s", bh, didYouMean(bh, names))
		}
	}
	checkBuildHost(0, "defaults.buildHost", f.Defaults.BuildHost)
	for i, h := range f.Hosts {
		checkBuildHost(h.Line, fmt.Sprintf("hosts[%d].buildHost", i), h.BuildHost)
	}
	profNames := map[string]int{}
	for i, p := range f.Profiles {
		field := fmt.Sprintf("profiles[%d]", i)
		if p.Name != "" {
			if prev, dup := profNames[p.Name]; dup {
				d.addf(p.Line, field+".name", "duplicate profile name %q (first at line %d)", p.Name, prev)
			}
			profNames[p.Name] = p.Line
		}
		if p.Host != "" {
			if _, ok := hostNames[p.Host]; !ok {
				d.addf(p.Line, field+".host", "no host named %q in hosts%s", p.Host, didYouMean(p.Host, names))
			}
		}
	}
}

func didYouMean(s string, candidates []string) string {
	if c := Closest(s, candidates, 1); len(c) > 0 {
		return fmt.Sprintf("; did you mean %q?", c[0])
	}
	return ""
}

func depth(n *yaml.Node) int {
	best := 0
	for _, c := range n.Content {
		if d := depth(c); d > best {
			best = d
		}
		if best > maxDepth {
			break
		}
	}
	return best + 1
}

func yamlErrLine(err error) int {
	var line int
	if _, scanErr := fmt.Sscanf(strings.TrimPrefix(err.Error(), "yaml: "), "line %d:", &line); scanErr == nil {
		return line
	}
	return 0
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	}
	if n.Tag == "!!null" {
		return "nothing"
	}
	return fmt.Sprintf("%q", n.Value)
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func orTop(path string) string {
	if path == "" {
		return "(top level)"
	}
	return path
}
