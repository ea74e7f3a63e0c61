package remote_test

import (
	"errors"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nixctl/nixctl/internal/fault"
	"github.com/nixctl/nixctl/internal/remote"
	"github.com/nixctl/nixctl/internal/testutil"
)

// configs writes ~/.ssh/config and a system configuration into a fresh
// home and reads them as nixctl does when HOME is the user's own.
func configs(t *testing.T, user, system string, env remote.Env) (*remote.SSH, string) {
	t.Helper()
	home := t.TempDir()
	files := map[string]string{"etc/ssh_config": system, "etc/conf.d/extra.conf": "Host included\n  HostName from-include\n"}
	if user != "" {
		files["home/.ssh/config"] = strings.ReplaceAll(user, "%ROOT%", home)
	}
	testutil.WriteFiles(t, home, files)
	env.Home = filepath.Join(home, "home")
	if env.SystemHome == "" {
		env.SystemHome = env.Home
	}
	env.SystemConfig = filepath.Join(home, "etc/ssh_config")
	c, err := remote.New(env)
	if err != nil {
		t.Fatal(err)
	}
	return c, home
}

func route(t *testing.T, c *remote.SSH, spec remote.Spec) remote.Route {
	t.Helper()
	r, err := c.Route(spec)
	if err != nil {
		t.Fatalf("Route(%+v): %v", spec, err)
	}
	return r
}

const userConfig = `
Host !bastion *.lan mini
  User deploy
  IdentityFile ~/.ssh/fleet
  ProxyJump bastion

Host mini
  HostName 192.0.2.20
  Port 2222
  User ignored-second-match

Host bastion
  HostName bastion.example.org
  User jump
  Port 2200

Host direct
  HostName 192.0.2.30
  ProxyJump none
  UserKnownHostsFile ~/.ssh/fleet_known_hosts
  ConnectTimeout 7
  IdentitiesOnly yes
  IdentityAgent none
  StrictHostKeyChecking no

Host chain
  HostName 10.9.9.9
  ProxyJump alice@hop1:2022,hop2

Host hop2
  ProxyJump hop0

Match originalhost orig
  HostName orig.example.org

Host byname
  HostName real.example.org
Match host real.example.org
  Port 4444

Host inc*
  Include %ROOT%/etc/conf.d/*.conf
`

func TestRouteFromConfig(t *testing.T) {
	t.Parallel()
	c, home := configs(t, userConfig, "Host *\n  Port 2999\n  User system-wide\n", remote.Env{LocalUser: "me", AuthSock: "/run/agent.sock"})
	h := filepath.Join(home, "home")

	// The first match wins across sections; a negated pattern keeps a
	// section away from a host.
	mini := route(t, c, remote.Spec{Host: "mini"})
	if mini.HostName != "192.0.2.20" || mini.Port != 2222 || mini.User != "deploy" {
		t.Errorf("mini = %s@%s:%d", mini.User, mini.HostName, mini.Port)
	}
	if got := strings.Join(mini.Identities, " "); got != filepath.Join(h, ".ssh/fleet") {
		t.Errorf("identities = %s (defaults are not added when IdentityFile is set)", got)
	}
	if mini.Jump == nil || mini.Jump.HostName != "bastion.example.org" || mini.Jump.User != "jump" || mini.Jump.Port != 2200 || mini.Jump.Jump != nil {
		t.Fatalf("mini's jump = %+v", mini.Jump)
	}
	if mini.Agent != "/run/agent.sock" || mini.IdentitiesOnly || mini.ConnectTimeout != remote.DefaultTimeout {
		t.Errorf("defaults: agent %q, identitiesOnly %v, timeout %s", mini.Agent, mini.IdentitiesOnly, mini.ConnectTimeout)
	}
	// An alias alone reaches the host: ssh gets nothing but its name.
	if got := strings.Join(mini.Command("true"), " "); got != "ssh mini true" {
		t.Errorf("command = %q, want ssh mini true", got)
	}

	// The system file comes after the user's: its values fill what is unset.
	other := route(t, c, remote.Spec{Host: "other.example.org"})
	if other.Port != 2999 || other.User != "system-wide" || other.Dest != "other.example.org" {
		t.Errorf("other = %+v", other)
	}

	d := route(t, c, remote.Spec{Host: "direct"})
	if d.Jump != nil || d.ConnectTimeout != 7*time.Second || !d.IdentitiesOnly || d.Agent != "" || d.StrictHostKeyChecking != "no" {
		t.Errorf("direct = %+v", d)
	}
	if len(d.UserKnownHosts) != 1 || d.UserKnownHosts[0] != filepath.Join(h, ".ssh/fleet_known_hosts") {
		t.Errorf("known hosts = %v", d.UserKnownHosts)
	}
	// With no user anywhere, nixctl logs in as root and tells ssh so.
	if d.User != "system-wide" {
		t.Errorf("direct's user = %q", d.User)
	}

	// -J a,b: b through a; a through its own ProxyJump.
	ch := route(t, c, remote.Spec{Host: "chain"})
	var hops []string
	for j := ch.Jump; j != nil; j = j.Jump {
		hops = append(hops, j.User+"@"+j.Name+":"+strconv.Itoa(j.Port))
	}
	if got := strings.Join(hops, " <- "); got != "system-wide@hop2:2999 <- alice@hop1:2022" {
		t.Errorf("chain hops = %s", got)
	}
	// Each hop is an ssh command of its own, as a hint prints it.
	if got := strings.Join(ch.Jump.Command("true"), " "); got != "ssh -J alice@hop1:2022 hop2 true" {
		t.Errorf("last hop's command = %q", got)
	}
	if got := strings.Join(ch.Jump.Jump.Command("true"), " "); got != "ssh -p 2022 alice@hop1 true" {
		t.Errorf("first hop's command = %q", got)
	}
	if got := strings.Join(mini.Jump.Command("true"), " "); got != "ssh bastion true" {
		t.Errorf("mini's jump command = %q", got)
	}

	if r := route(t, c, remote.Spec{Host: "orig"}); r.HostName != "orig.example.org" {
		t.Errorf("Match originalhost: HostName = %s", r.HostName)
	}
	// Match host sees the host name HostName set, not the alias.
	if r := route(t, c, remote.Spec{Host: "byname"}); r.HostName != "real.example.org" || r.Port != 4444 {
		t.Errorf("Match host: %s:%d", r.HostName, r.Port)
	}
	if r := route(t, c, remote.Spec{Host: "included"}); r.HostName != "from-include" {
		t.Errorf("Include: HostName = %s", r.HostName)
	}
}

func TestInventoryOverridesConfig(t *testing.T) {
	t.Parallel()
	cfg := "Host mini\n  HostName 192.0.2.20\n  Port 2222\n  User deploy\n  ProxyJump bastion\n"
	c, home := configs(t, cfg, "", remote.Env{})
	h := filepath.Join(home, "home")
	for _, tc := range []struct {
		name string
		spec remote.Spec
		port int
		user string
		jump bool
		cmd  string
	}{
		{"alias alone", remote.Spec{Host: "mini"}, 2222, "deploy", true, "ssh mini true"},
		{"inventory user and port", remote.Spec{Host: "mini", User: "root", Port: 22}, 22, "root", true, "ssh -p 22 root@mini true"},
		{"-o wins over the file", remote.Spec{Host: "mini", Options: []string{"-o", "Port=2200", "-oUser=ops"}}, 2200, "ops", true, "ssh -o Port=2200 -oUser=ops mini true"},
		{"-p -l -J", remote.Spec{Host: "mini", Options: []string{"-p", "2300", "-l", "adm", "-J", "none"}}, 2300, "adm", false, "ssh -p 2300 -l adm -J none mini true"},
		{"first of two wins", remote.Spec{Host: "mini", Port: 2400, Options: []string{"-p", "2500"}}, 2500, "deploy", true, "ssh -p 2500 -p 2400 mini true"},
		{"plain address gets root", remote.Spec{Host: "192.0.2.9"}, 22, "root", false, "ssh root@192.0.2.9 true"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := route(t, c, tc.spec)
			if r.Port != tc.port || r.User != tc.user || (r.Jump != nil) != tc.jump {
				t.Errorf("got %s@%s:%d jump %v", r.User, r.HostName, r.Port, r.Jump != nil)
			}
			if got := strings.Join(r.Command("true"), " "); got != tc.cmd {
				t.Errorf("command = %q, want %q", got, tc.cmd)
			}
		})
	}
	r := route(t, c, remote.Spec{Host: "mini", Identity: filepath.Join(h, "k"), Options: []string{"-i", "~/other", "-o", "IdentityFile=~/third"}})
	want := []string{filepath.Join(h, "other"), filepath.Join(h, "third"), filepath.Join(h, "k")}
	if strings.Join(r.Identities, " ") != strings.Join(want, " ") {
		t.Errorf("identities = %v, want %v (command line first, in order)", r.Identities, want)
	}
}

// When HOME is not the user's home in the password database, the system
// ssh would read another ~/.ssh: nixctl names its file with -F and the files
// it took from HOME, and reads only that file itself, as ssh -F does.
func TestRedirectedHomeIsExplicit(t *testing.T) {
	t.Parallel()
	cfg := "Host mini\n  HostName 192.0.2.20\n"
	c, home := configs(t, cfg, "Host *\n  Port 2999\n", remote.Env{SystemHome: "/nonexistent-home"})
	h := filepath.Join(home, "home")
	testutil.WriteFiles(t, h, map[string]string{".ssh/known_hosts": "", ".ssh/id_ed25519": "key"})
	r := route(t, c, remote.Spec{Host: "mini"})
	if r.Port != 22 {
		t.Errorf("port %d: the system file must not be read when ssh gets -F", r.Port)
	}
	want := "ssh -F " + h + "/.ssh/config -o UserKnownHostsFile=" + h + "/.ssh/known_hosts -i " + h + "/.ssh/id_ed25519 root@mini true"
	if got := strings.Join(r.Command("true"), " "); got != want {
		t.Errorf("command\n got %s\nwant %s", got, want)
	}
	opts, err := r.NixSSHOpts()
	if err != nil || !strings.HasPrefix(opts, "-F "+h+"/.ssh/config ") {
		t.Errorf("NIX_SSHOPTS = %q, %v", opts, err)
	}

	// With no user file in either home, ssh reads the same system file by
	// itself: no -F.
	c2, _ := configs(t, "", "Host *\n  Port 2999\n", remote.Env{SystemHome: "/nonexistent-home"})
	r2 := route(t, c2, remote.Spec{Host: "x"})
	if r2.Port != 2999 || len(r2.Args) != 0 {
		t.Errorf("got port %d, args %v", r2.Port, r2.Args)
	}
}

func TestSharedOptionsComeFirst(t *testing.T) {
	t.Parallel()
	c, _ := configs(t, "", "", remote.Env{Shared: []string{"-o", "ControlMaster=no", "-p", "2022"}})
	r := route(t, c, remote.Spec{Host: "h", Port: 2200})
	if r.Port != 2022 {
		t.Errorf("port %d: an exported NIX_SSHOPTS comes first on ssh's command line, so it wins", r.Port)
	}
	opts, err := r.NixSSHOpts()
	if err != nil || opts != "-o ControlMaster=no -p 2022 -p 2200" {
		t.Errorf("NIX_SSHOPTS = %q, %v", opts, err)
	}
}

func TestRouteErrors(t *testing.T) {
	t.Parallel()
	c, _ := configs(t, "Host loop\n  ProxyJump loop\n", "", remote.Env{})
	for _, spec := range []remote.Spec{
		{Host: "loop"},
		{Host: "h", Options: []string{"-p"}},
		{Host: "h", Options: []string{"ConnectTimeout=5"}},
		{Host: "h", Options: []string{"-F", "/x"}},
		{Host: "h", Options: []string{"-o", "Port=http"}},
		{Host: "-oProxyCommand=x"},
	} {
		if _, err := c.Route(spec); err == nil {
			t.Errorf("Route(%+v) succeeded", spec)
		}
	}
	_, err := remote.New(remote.Env{Home: t.TempDir(), SystemConfig: writeTemp(t, "Match exec \"true\"\n  Port 1\n")})
	var ce *remote.ConfigError
	if !errors.As(err, &ce) || fault.HintOf(err) == "" {
		t.Errorf("Match exec: want a ConfigError with a hint, got %v", err)
	}
}

func writeTemp(t *testing.T, content string) string {
	t.Helper()
	dir := t.TempDir()
	testutil.WriteFiles(t, dir, map[string]string{"f": content})
	return filepath.Join(dir, "f")
}
