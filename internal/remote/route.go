package remote

import (
	"fmt"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// DefaultUser is who nixctl logs in as when neither the inventory nor the
// ssh configuration names a user (ssh itself would take the local user).
const DefaultUser = "root"

// SystemConfig is the system-wide ssh configuration.
const SystemConfig = "/etc/ssh/ssh_config"

// Env is what resolution depends on outside the inventory.
type Env struct {
	// Home is nixctl's home directory ($HOME): ~ in the configuration, the
	// user configuration ~/.ssh/config and the default key and known_hosts
	// files are taken from it.
	Home string
	// SystemHome is the home directory the password database gives for this
	// user, which is where the system ssh looks ("" = unknown, taken to be
	// Home).
	SystemHome string
	// LocalUser is the local user name (%u).
	LocalUser string
	// SystemConfig is /etc/ssh/ssh_config.
	SystemConfig string
	// AuthSock is $SSH_AUTH_SOCK, the default IdentityAgent.
	AuthSock string
	// Shared are the ssh options every tool gets first: an exported
	// NIX_SSHOPTS, which nixos-rebuild and nix copy put before nixctl's.
	Shared []string
	// Lookup reads the variable an IdentityAgent $VAR names (nil: none is
	// set).
	Lookup func(name string) (string, bool)
}

// redirected reports whether the system ssh would read another ~/.ssh than
// nixctl does (HOME is not the password database's home).
func (e Env) redirected() bool {
	return e.SystemHome != "" && filepath.Clean(e.SystemHome) != filepath.Clean(e.Home)
}

// SSH is nixctl's one way to reach hosts: it resolves a host as OpenSSH
// does and dials the resulting Route. Every command's connections, and the
// options given to ssh, nixos-rebuild and nix copy, come from here.
type SSH struct {
	env   Env
	files []*configFile
	// configArg is what -F gives the system ssh ("" = nothing: it reads the
	// same files by itself).
	configArg string
	// pin: ssh takes ~ from elsewhere, so the files nixctl took from $HOME
	// are named to it.
	pin bool
	Dialer
}

// New reads the ssh configuration: ~/.ssh/config then /etc/ssh/ssh_config,
// as ssh does. When HOME is not the password database's home, the system
// ssh would take ~/.ssh from elsewhere: then nixctl names the known_hosts
// and key files it took from $HOME to ssh, and, when either home has a
// config file, reads only the one file it names to ssh with -F (ssh -F
// reads nothing else): both see the same configuration.
func New(env Env) (*SSH, error) {
	if env.SystemConfig == "" {
		env.SystemConfig = SystemConfig
	}
	if env.Lookup == nil {
		env.Lookup = func(string) (string, bool) { return "", false }
	}
	s := &SSH{env: env, pin: env.redirected()}
	userConfig := filepath.Join(env.Home, ".ssh", "config")
	paths := []string{userConfig, env.SystemConfig}
	if s.pin && (isRegular(userConfig) || isRegular(filepath.Join(env.SystemHome, ".ssh", "config"))) {
		s.configArg = "none"
		for _, p := range paths {
			if isRegular(p) {
				s.configArg = p
				paths = []string{p}
				break
			}
		}
		if s.configArg == "none" {
			paths = nil
		}
	}
	for _, p := range paths {
		f, err := loadConfig(p)
		if err != nil {
			return nil, err
		}
		if f != nil {
			s.files = append(s.files, f)
		}
	}
	if _, err := parseOptions(env.Shared); err != nil {
		return nil, fmt.Errorf("NIX_SSHOPTS: %w", err)
	}
	return s, nil
}

// Spec is a host as the inventory gives it: each field set there overrides
// the ssh configuration as the same option on ssh's command line would.
type Spec struct {
	// Host is the inventory's address: a DNS name, an IP address or an alias
	// of the ssh configuration.
	Host string
	// User (-l), Port (-p) and Identity (-i, an absolute path) are unset when
	// empty.
	User     string
	Port     int
	Identity string
	// Options are the inventory's sshOptions: -o Key=Value, -p, -i, -J, -l
	// and other ssh flags.
	Options []string
}

// Route is how one host is reached: where to dial, as whom, through which
// jump hosts, with which keys, checked against which known_hosts. nixctl's
// own connections dial it; ssh, nixos-rebuild and nix copy get Args and
// Dest, which make the system ssh resolve the same route.
type Route struct {
	// Name is the host as given (what Host patterns match).
	Name     string
	HostName string
	Port     int
	User     string
	// Jump is the hop this host is reached through (nil: dialled directly).
	Jump *Route
	// Identities are the key files offered, in order; IdentitiesOnly
	// offers no agent key but theirs.
	Identities     []string
	IdentitiesOnly bool
	// RequiredIdentity is the inventory's identity file: unlike the
	// configuration's, it must load.
	RequiredIdentity string
	// Agent is the ssh-agent socket ("" = none).
	Agent string
	// UserKnownHosts and GlobalKnownHosts are read in that order.
	UserKnownHosts   []string
	GlobalKnownHosts []string
	// HostKeyAlias names the host in known_hosts instead of HostName.
	HostKeyAlias string
	// ConnectTimeout bounds the connection and the handshake.
	ConnectTimeout time.Duration
	// StrictHostKeyChecking is what the configuration says; nixctl checks
	// host keys as with "yes" whatever it says.
	StrictHostKeyChecking string

	// Shared are the options every tool already has (an exported
	// NIX_SSHOPTS); Args are nixctl's, before the destination Dest.
	Shared []string
	Args   []string
	Dest   string
}

// Addr is host:port as net.Dial takes it.
func (r Route) Addr() string { return net.JoinHostPort(r.HostName, strconv.Itoa(r.Port)) }

// KnownHostsAddr is the address known_hosts entries are looked up by.
func (r Route) KnownHostsAddr() string {
	h := r.HostName
	if r.HostKeyAlias != "" {
		h = r.HostKeyAlias
	}
	return net.JoinHostPort(h, strconv.Itoa(r.Port))
}

// String names the route in messages: user@host[:port], and the jumps.
func (r Route) String() string {
	s := r.User + "@" + r.HostName
	if r.Port != 22 {
		s += ":" + strconv.Itoa(r.Port)
	}
	if r.Name != r.HostName && r.Name != "" {
		s = r.Name + " (" + s + ")"
	}
	if r.Jump != nil {
		s += " via " + r.Jump.String()
	}
	return s
}

// Destination is Dest: the destination ssh, nixos-rebuild --target-host and
// --build-host take.
func (r Route) Destination() string { return r.Dest }

// SSHArgs are the ssh options before the destination, shared ones first.
func (r Route) SSHArgs() []string { return append(append([]string(nil), r.Shared...), r.Args...) }

// Command is the ssh command line that reaches the host as nixctl does and
// runs words there: ssh [options] DEST words...
func (r Route) Command(words ...string) []string {
	return append(append(append([]string{"ssh"}, r.SSHArgs()...), r.Dest), words...)
}

// NixSSHOpts is NIX_SSHOPTS for nixos-rebuild and nix copy: the exported
// value kept in front, nixctl's options after it. Nix splits it on
// whitespace, so an option holding some cannot pass.
func (r Route) NixSSHOpts() (string, error) {
	for _, a := range r.Args {
		if a == "" || strings.ContainsAny(a, " \t\n\r\"'\\") {
			return "", &OptsError{Arg: a}
		}
	}
	return strings.Join(r.SSHArgs(), " "), nil
}

// StoreURI is ssh://DEST for nix copy (IPv6 addresses in brackets).
func (r Route) StoreURI() string {
	user, host, ok := strings.Cut(r.Dest, "@")
	if !ok {
		user, host = "", r.Dest
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if user != "" {
		return "ssh://" + user + "@" + host
	}
	return "ssh://" + host
}

// OptsError is an ssh option that NIX_SSHOPTS cannot carry.
type OptsError struct{ Arg string }

func (e *OptsError) Error() string {
	return fmt.Sprintf("ssh option %q cannot go through NIX_SSHOPTS: nix splits it on spaces", e.Arg)
}

// Hint says what to change.
func (e *OptsError) Hint() string {
	return "use paths without spaces for identity and known_hosts files, or set the option for the host in ~/.ssh/config instead"
}

// Route resolves spec as ssh would with the inventory's settings as
// command-line options: those win, then the configuration's first value,
// then ssh's defaults (and DefaultUser).
func (s *SSH) Route(spec Spec) (Route, error) {
	if spec.Host == "" || strings.HasPrefix(spec.Host, "-") {
		return Route{}, fmt.Errorf("ssh destination %q is not a host name", spec.Host)
	}
	cl, err := parseOptions(s.env.Shared)
	if err != nil {
		return Route{}, err
	}
	own, err := parseOptions(spec.Options)
	if err != nil {
		return Route{}, err
	}
	if own.configFile != "" {
		return Route{}, fmt.Errorf("ssh option -F %s: nixctl reads ~/.ssh/config and /etc/ssh/ssh_config as ssh does; put the settings there (or Include the file)", own.configFile)
	}
	cl.merge(own)
	if spec.User != "" {
		cl.setOnce("user", spec.User)
	}
	if spec.Port != 0 {
		cl.setOnce("port", strconv.Itoa(spec.Port))
	}
	if spec.Identity != "" {
		cl.identities = append(cl.identities, spec.Identity)
	}
	r, err := s.resolve(spec.Host, cl, 0)
	if err != nil {
		return Route{}, err
	}
	if spec.Identity != "" {
		r.RequiredIdentity = s.path(spec.Identity, s.tokens(r))
	}
	r.Shared = append([]string(nil), s.env.Shared...)
	r.Args = s.args(spec, r, cl)
	r.Dest = spec.Host
	if spec.User != "" || cl.userSource == "" && !cl.has("user") {
		// The user comes from the inventory, or is nixctl's default where
		// ssh would take the local user: ssh must be told.
		r.Dest = r.User + "@" + spec.Host
	}
	return r, nil
}

// args are the options the system ssh needs to reach r as nixctl does: the
// inventory's own options as written, its port and identity, and, when ssh
// would read another ~/.ssh, the configuration file and the files nixctl
// took from $HOME.
func (s *SSH) args(spec Spec, r Route, cl *cmdline) []string {
	var args []string
	if s.configArg != "" {
		args = append(args, "-F", s.configArg)
	}
	args = append(args, spec.Options...)
	if spec.Port != 0 {
		args = append(args, "-p", strconv.Itoa(spec.Port))
	}
	if spec.Identity != "" {
		args = append(args, "-i", spec.Identity)
	}
	if !s.pin {
		return args
	}
	// Only what nixctl took from $HOME differs from what ssh would read.
	inHome := func(p string) bool { return strings.HasPrefix(p, filepath.Clean(s.env.Home)+"/") }
	if !cl.has("userknownhostsfile") {
		if kh := firstRegular(r.UserKnownHosts); kh != "" && inHome(kh) {
			args = append(args, "-o", "UserKnownHostsFile="+kh)
		}
	}
	for _, id := range r.Identities {
		if id != spec.Identity && inHome(id) && isRegular(id) && !containsStr(cl.identities, id) {
			args = append(args, "-i", id)
		}
	}
	return args
}

func containsStr(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func isRegular(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}

func firstRegular(paths []string) string {
	for _, p := range paths {
		if isRegular(p) {
			return p
		}
	}
	return ""
}

// Agrees says (as an error) how r would be reached otherwise if ssh got
// args, instead of r's own options, in front of r's destination:
// nixos-rebuild gives the target's ssh and the build host's one NIX_SSHOPTS.
func (s *SSH) Agrees(r Route, args []string) error {
	cl, err := parseOptions(append(append([]string(nil), s.env.Shared...), args...))
	if err != nil {
		return err
	}
	host := r.Dest
	if u, h, ok := strings.Cut(r.Dest, "@"); ok {
		host = h
		cl.setOnce("user", u)
	}
	other, err := s.resolve(host, cl, 0)
	if err != nil {
		return err
	}
	if got, want := other.String(), r.String(); got != want {
		return fmt.Errorf("with the ssh options %q, %s would be reached as %s instead of %s", strings.Join(args, " "), r.Name, got, want)
	}
	for _, id := range r.Identities {
		if isRegular(id) && !containsStr(other.Identities, id) {
			return fmt.Errorf("with the ssh options %q, ssh would not offer %s's key %s", strings.Join(args, " "), r.Name, id)
		}
	}
	return nil
}

// maxJumps bounds a ProxyJump chain (and catches loops).
const maxJumps = 8

// resolve computes the route to name with cl's options winning over the
// configuration; jump hops are resolved from the configuration alone, as
// ssh resolves them in the ssh it runs for each hop.
func (s *SSH) resolve(name string, cl *cmdline, depth int) (Route, error) {
	if depth > maxJumps {
		return Route{}, fmt.Errorf("ProxyJump: more than %d hops to reach %s (a loop?)", maxJumps, name)
	}
	l := newLookup(s.files, name)
	get := func(key string) string {
		if v, ok := cl.get(key); ok {
			return v
		}
		return l.get(key)
	}
	r := Route{Name: name, HostName: name, Port: 22, User: DefaultUser, ConnectTimeout: DefaultTimeout, StrictHostKeyChecking: "ask"}
	if v := get("hostname"); v != "" {
		r.HostName = expandHostName(v, name)
	}
	if v := get("port"); v != "" {
		p, err := strconv.Atoi(v)
		if err != nil || p < 1 || p > 65535 {
			return Route{}, fmt.Errorf("%s: Port %q is not a port number", name, v)
		}
		r.Port = p
	}
	if v := get("user"); v != "" {
		r.User = v
		if _, ok := cl.get("user"); !ok {
			cl.userSource = "config"
		}
	}
	tokens := s.tokens(r)
	files := append([]string(nil), cl.identities...)
	files = append(files, l.getAll("identityfile")...)
	explicit := len(files) > 0
	if !explicit {
		for _, f := range []string{"id_rsa", "id_ecdsa", "id_ecdsa_sk", "id_ed25519", "id_ed25519_sk"} {
			files = append(files, filepath.Join(s.env.Home, ".ssh", f))
		}
	}
	for _, f := range files {
		if strings.EqualFold(f, "none") {
			continue
		}
		if p := s.path(f, tokens); !containsStr(r.Identities, p) {
			r.Identities = append(r.Identities, p)
		}
	}
	r.IdentitiesOnly = isYes(get("identitiesonly"))
	r.Agent = s.env.AuthSock
	if v := get("identityagent"); v != "" {
		switch {
		case strings.EqualFold(v, "none"):
			r.Agent = ""
		case v == "SSH_AUTH_SOCK":
		case strings.HasPrefix(v, "$"):
			r.Agent, _ = s.env.Lookup(strings.TrimPrefix(v, "$"))
		default:
			r.Agent = s.path(v, tokens)
		}
	}
	r.UserKnownHosts = s.pathList(get("userknownhostsfile"), "~/.ssh/known_hosts ~/.ssh/known_hosts2", tokens)
	r.GlobalKnownHosts = s.pathList(get("globalknownhostsfile"), "/etc/ssh/ssh_known_hosts /etc/ssh/ssh_known_hosts2", tokens)
	r.HostKeyAlias = get("hostkeyalias")
	if v := get("connecttimeout"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return Route{}, fmt.Errorf("%s: ConnectTimeout %q is not a number of seconds", name, v)
		}
		if n > 0 {
			r.ConnectTimeout = time.Duration(n) * time.Second
		}
	}
	if v := get("stricthostkeychecking"); v != "" {
		r.StrictHostKeyChecking = strings.ToLower(v)
	}
	if v := get("proxyjump"); v != "" && !strings.EqualFold(v, "none") {
		jump, err := s.jump(v, depth)
		if err != nil {
			return Route{}, fmt.Errorf("%s: %w", name, err)
		}
		r.Jump = jump
	}
	return r, nil
}

// jump resolves a ProxyJump list: the last hop is reached through the ones
// before it (as ssh -J a,b runs ssh -J a for b), the first through its own
// configuration.
func (s *SSH) jump(list string, depth int) (*Route, error) {
	hops := strings.Split(list, ",")
	last := strings.TrimSpace(hops[len(hops)-1])
	last = strings.TrimPrefix(last, "ssh://")
	user, host, port, err := splitHop(last)
	if err != nil {
		return nil, err
	}
	cl := &cmdline{values: map[string]string{}}
	if user != "" {
		cl.values["user"] = user
	}
	if port != "" {
		cl.values["port"] = port
	}
	if len(hops) > 1 {
		cl.values["proxyjump"] = strings.Join(hops[:len(hops)-1], ",")
	}
	r, err := s.resolve(host, cl, depth+1)
	if err != nil {
		return nil, err
	}
	// The hop as an ssh command line reaches it (what hints print).
	spec := Spec{Host: host, User: user}
	if port != "" {
		spec.Port = r.Port
	}
	if len(hops) > 1 {
		spec.Options = []string{"-J", cl.values["proxyjump"]}
	}
	r.Shared = append([]string(nil), s.env.Shared...)
	r.Args = s.args(spec, r, cl)
	r.Dest = host
	if user != "" {
		r.Dest = user + "@" + host
	}
	return &r, nil
}

// splitHop reads [user@]host[:port] (an IPv6 address in brackets).
func splitHop(h string) (user, host, port string, err error) {
	if i := strings.LastIndex(h, "@"); i >= 0 {
		user, h = h[:i], h[i+1:]
	}
	host = h
	if strings.HasPrefix(h, "[") {
		if hh, p, err := net.SplitHostPort(h); err == nil {
			host, port = hh, p
		}
	} else if i := strings.LastIndex(h, ":"); i >= 0 && strings.Count(h, ":") == 1 {
		host, port = h[:i], h[i+1:]
	}
	if host == "" || strings.HasPrefix(host, "-") {
		return "", "", "", fmt.Errorf("ProxyJump hop %q is not [user@]host[:port]", h)
	}
	return user, host, port, nil
}

// tokens are the % expansions of IdentityFile, IdentityAgent and the
// known_hosts files.
func (s *SSH) tokens(r Route) *strings.Replacer {
	return strings.NewReplacer("%%", "%", "%d", s.env.Home, "%h", r.HostName, "%n", r.Name,
		"%p", strconv.Itoa(r.Port), "%r", r.User, "%u", s.env.LocalUser)
}

// path expands ~ (nixctl's home) and % tokens.
func (s *SSH) path(p string, tokens *strings.Replacer) string {
	p = tokens.Replace(p)
	if p == "~" {
		return s.env.Home
	}
	if strings.HasPrefix(p, "~/") {
		return filepath.Join(s.env.Home, p[2:])
	}
	return p
}

// pathList reads a known_hosts setting: space-separated files, "none" for
// no file.
func (s *SSH) pathList(v, def string, tokens *strings.Replacer) []string {
	if v == "" {
		v = def
	}
	if strings.EqualFold(v, "none") {
		return nil
	}
	var out []string
	for _, f := range strings.Fields(v) {
		out = append(out, s.path(f, tokens))
	}
	return out
}

func isYes(v string) bool { return strings.EqualFold(v, "yes") || strings.EqualFold(v, "true") }

// PasswdHome is the home directory the password database gives for the
// user nixctl runs as: where the system ssh looks for ~/.ssh ("" if
// unknown).
func PasswdHome() string {
	u, err := user.Current()
	if err != nil {
		return ""
	}
	return u.HomeDir
}
