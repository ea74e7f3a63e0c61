package inventory

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

const good = `
flake: .
defaults:
  user: deploy
  port: 2200
  sudo: true
  parallel: 8
  sshOptions: ["-o", "ConnectTimeout=10"]
hosts:
  - name: nixos-mini
    address: 192.168.1.20
    user: gabriel
    tags: [cluster, k0s]
    health:
      - tcp: "192.168.1.20:22"
      - http: "http://192.168.1.20:9100/metrics"
      - command: "systemctl is-system-running --wait"
        timeout: 2m
  - name: Node.Two
    address: node2.lan
    attr: node-two
    port: 22
    sudo: false
    buildHost: nixos-mini
  - name: v6
    address: "fe80::1"
profiles:
  - name: laptop
    attr: gabriel@laptop
    user: gabriel
    backupExtension: hm-bak
  - name: server
    host: nixos-mini
    tags: [servers]
secrets:
  dir: secrets
  sopsConfig: .sops.yaml
`

func TestParseInheritsDefaults(t *testing.T) {
	t.Parallel()
	f, err := Parse("/repo/nixctl.yaml", []byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if f.Flake != "/repo" {
		t.Errorf("flake = %q, want /repo", f.Flake)
	}
	mini, _ := f.Host("nixos-mini")
	if mini.User != "gabriel" || mini.Port != 2200 || !mini.Sudo || mini.Attr != "nixos-mini" {
		t.Errorf("nixos-mini = %+v", mini)
	}
	if got := strings.Join(mini.SSHOptions, " "); got != "-o ConnectTimeout=10" {
		t.Errorf("sshOptions = %q", got)
	}
	if len(mini.Health) != 3 || mini.Health[1].ExpectStatus != 200 || mini.Health[2].Timeout.Minutes() != 2 {
		t.Errorf("health = %+v", mini.Health)
	}
	two, ok := f.Host("Node.Two")
	if !ok {
		t.Fatal("a name with a dot and capitals must survive")
	}
	if two.Sudo {
		t.Error("sudo: false on the host must win over defaults.sudo: true")
	}
	if two.User != "deploy" || two.Port != 22 || two.Attr != "node-two" || two.BuildHost != "nixos-mini" {
		t.Errorf("Node.Two = %+v", two)
	}
	v6, _ := f.Host("v6")
	if v6.Target() != "deploy@[fe80::1]" || v6.Dial() != "[fe80::1]:2200" {
		t.Errorf("v6 target %q dial %q", v6.Target(), v6.Dial())
	}
	laptop, _ := f.Profile("laptop")
	server, _ := f.Profile("server")
	if laptop.Attr != "gabriel@laptop" || server.Attr != "server" || server.Host != "nixos-mini" {
		t.Errorf("profiles = %+v %+v", laptop, server)
	}
	if got := f.SecretsDir(); got != filepath.Join("/repo", "secrets") {
		t.Errorf("secrets dir = %q", got)
	}
	if got := strings.Join(f.Tags(), ","); got != "cluster,k0s,servers" {
		t.Errorf("tags = %q", got)
	}
}

func TestResolveFlake(t *testing.T) {
	t.Parallel()
	for ref, want := range map[string]string{
		"":                  "/repo",
		".":                 "/repo",
		"./sub":             "/repo/sub",
		"/abs/fleet":        "/abs/fleet",
		"github:me/fleet":   "github:me/fleet",
		"path:./x":          "path:/repo/x",
		"git+ssh://h/fleet": "git+ssh://h/fleet",
	} {
		if got := resolveFlake(ref, "/repo"); got != want {
			t.Errorf("resolveFlake(%q) = %q, want %q", ref, got, want)
		}
	}
}

// Each bad inventory must be reported with the field and this message part.
func TestParseProblems(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, yaml, want string
	}{
		{"empty", "", "the file is empty"},
		{"not yaml", "hosts: [", "not valid YAML"},
		{"top-level list", "- a\n- b\n", "must be a mapping"},
		{"unknown top key", "hostz: []\n", `hostz: unknown key; did you mean "hosts"?`},
		{"unknown host key", "hosts:\n  - name: a\n    address: h\n    adress: x\n", `hosts[0].adress: unknown key; did you mean "address"?`},
		{"wrong case key", "hosts:\n  - name: a\n    address: h\n    BuildHost: x\n", `did you mean "buildHost"?`},
		{"repeated key", "hosts:\n  - name: a\n    name: b\n    address: h\n", "key repeated"},
		{"missing name", "hosts:\n  - address: h\n", "hosts[0].name: required"},
		{"missing address", "hosts:\n  - name: a\n", "address: required"},
		{"bad name", "hosts:\n  - name: 'a b'\n    address: h\n", "is not a valid name"},
		{"leading dash", "hosts:\n  - name: -x\n    address: h\n", "is not a valid name"},
		{"unicode look-alike", "hosts:\n  - name: nixоs\n    address: h\n", `"nix\u043es" is not a valid name`},
		{"shell in address", "hosts:\n  - name: a\n    address: 'h;reboot'\n", "is not an IP address or DNS name"},
		{"subst in address", "hosts:\n  - name: a\n    address: '$(id)'\n", "is not an IP address or DNS name"},
		{"newline in address", "hosts:\n  - name: a\n    address: \"h\\nx\"\n", `"h\nx" is not an IP address`},
		{"port range", "hosts:\n  - name: a\n    address: h\n    port: 0\n", "out of range"},
		{"port type", "hosts:\n  - name: a\n    address: h\n    port: ssh\n", "must be a whole number"},
		{"sudo type", "defaults:\n  sudo: yes please\n", "must be true or false"},
		{"parallel", "defaults:\n  parallel: 0\n", "between 1 and 1000"},
		{"bad user", "defaults:\n  user: 'root;id'\n", "not a valid user name"},
		{"ssh option space", "defaults:\n  sshOptions: ['-o ConnectTimeout=1']\n", "write each ssh argument as its own list item"},
		{"rebuild", "defaults:\n  rebuild: fish\n", "must be auto, bash or ng"},
		{"duplicate host", "hosts:\n  - {name: a, address: h}\n  - {name: a, address: i}\n", `duplicate host name "a"`},
		{"duplicate profile", "profiles:\n  - {name: p}\n  - {name: p}\n", `duplicate profile name "p"`},
		{"profile host", "hosts:\n  - {name: web, address: h}\nprofiles:\n  - {name: p, host: wbe}\n", `no host named "wbe" in hosts; did you mean "web"?`},
		{"build host", "hosts:\n  - {name: web, address: h, buildHost: 'x y'}\n", "neither a host of this inventory nor user@address"},
		{"health two kinds", "hosts:\n  - {name: a, address: h, health: [{tcp: 'h:1', http: 'http://h/'}]}\n", "exactly one of tcp, http or command"},
		{"health tcp", "hosts:\n  - {name: a, address: h, health: [{tcp: 'h'}]}\n", "is not host:port"},
		{"health http scheme", "hosts:\n  - {name: a, address: h, health: [{http: 'ftp://h/'}]}\n", "is not an http:// or https:// URL"},
		{"health status", "hosts:\n  - {name: a, address: h, health: [{http: 'http://h/', expectStatus: 42}]}\n", "between 100 and 599"},
		{"health status on tcp", "hosts:\n  - {name: a, address: h, health: [{tcp: 'h:1', expectStatus: 200}]}\n", "only applies to http checks"},
		{"health command newline", "hosts:\n  - {name: a, address: h, health: [{command: \"true\\nreboot\"}]}\n", "one line"},
		{"health timeout", "hosts:\n  - {name: a, address: h, health: [{command: 'true', timeout: soon}]}\n", "must be a duration"},
		{"confirm timeout", "defaults:\n  confirmTimeout: later\n", "nixctl.yaml:2: defaults.confirmTimeout: must be a duration like 30s or 2m"},
		{"host confirm timeout", "hosts:\n  - name: a\n    address: h\n    confirmTimeout: -5s\n", "nixctl.yaml:4: hosts[0].confirmTimeout: must be a duration"},
		{"magic rollback", "hosts:\n  - name: a\n    address: h\n    magicRollback: maybe\n", "nixctl.yaml:4: hosts[0].magicRollback: must be true or false"},
		{"secrets escape", "secrets:\n  dir: ../../etc\n", "leaves the repository"},
		{"secrets absolute", "secrets:\n  dir: /etc\n", "must be relative"},
		{"attr quote", "hosts:\n  - {name: a, address: h, attr: 'x\"y'}\n", "not a valid flake attribute name"},
		{"tags not list", "hosts:\n  - {name: a, address: h, tags: web}\n", "must be a list"},
		{"backup ext", "profiles:\n  - {name: p, backupExtension: '../x'}\n", "not a valid backup extension"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("nixctl.yaml", []byte(c.yaml))
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("want a *ValidationError, got %v", err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error does not contain %q:\n%v", c.want, err)
			}
			if ve.Hint() == "" {
				t.Error("no hint")
			}
		})
	}
}

func TestParseReportsEveryProblemSortedWithLines(t *testing.T) {
	t.Parallel()
	_, err := Parse("nixctl.yaml", []byte("hosts:\n  - name: a\n    adress: x\n  - name: 'b c'\n    address: h\nprofiles:\n  - name: p\n    host: zz\n"))
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatal(err)
	}
	var lines []int
	for _, p := range ve.Problems {
		lines = append(lines, p.Line)
	}
	if len(ve.Problems) != 4 {
		t.Fatalf("want 4 problems (unknown key, missing address, bad name, unknown host), got %d: %v", len(ve.Problems), err)
	}
	for i := 1; i < len(lines); i++ {
		if lines[i] < lines[i-1] {
			t.Errorf("problems not sorted by line: %v", lines)
		}
	}
	if ve.Problems[0].Line != 2 && ve.Problems[0].Line != 3 {
		t.Errorf("first problem line = %d", ve.Problems[0].Line)
	}
}

func TestParseRefusesHugeAndDeepFiles(t *testing.T) {
	t.Parallel()
	huge := "hosts:\n" + strings.Repeat("  - {name: a, address: h}\n", MaxFileSize/20)
	if _, err := Parse("nixctl.yaml", []byte(huge)); err == nil || !strings.Contains(err.Error(), "an inventory is at most") {
		t.Errorf("huge file: %v", err)
	}
	deep := "hosts: " + strings.Repeat("[", 100) + strings.Repeat("]", 100) + "\n"
	if _, err := Parse("nixctl.yaml", []byte(deep)); err == nil || !strings.Contains(err.Error(), "nesting deeper") {
		t.Errorf("deep file: %v", err)
	}
}

func TestMagicRollbackKeys(t *testing.T) {
	t.Parallel()
	f, err := Parse("nixctl.yaml", []byte(`defaults: {confirmTimeout: 45s, magicRollback: false}
hosts:
  - {name: a, address: h}
  - {name: b, address: i, magicRollback: true, confirmTimeout: 2m}
  - {name: c, address: j}
`))
	if err != nil {
		t.Fatal(err)
	}
	a, b := f.Hosts[0], f.Hosts[1]
	if a.MagicRollbackOn() || a.ConfirmTimeout.String() != "45s" || !b.MagicRollbackOn() || b.ConfirmTimeout.String() != "2m0s" {
		t.Errorf("a %v %v, b %v %v", a.MagicRollbackOn(), a.ConfirmTimeout, b.MagicRollbackOn(), b.ConfirmTimeout)
	}
	f, _ = Parse("nixctl.yaml", []byte("hosts:\n  - {name: a, address: h}\n"))
	if !f.Hosts[0].MagicRollbackOn() || f.Hosts[0].ConfirmTimeout != 0 {
		t.Errorf("by default magic rollback is on, with nixctl's timeout: %+v", f.Hosts[0])
	}
}
