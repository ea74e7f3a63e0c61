package secrets

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/nixctl/nixctl/internal/fault"
	"github.com/nixctl/nixctl/internal/hostops"
	"github.com/nixctl/nixctl/internal/remote"
	"github.com/nixctl/nixctl/internal/testutil"
)

var k0sAdmin = testutil.K0sAdminKubeconfig("S0VZCg==")

type kubeconfigDoc struct {
	Clusters []struct {
		Name    string `yaml:"name"`
		Cluster struct {
			Server string `yaml:"server"`
			CA     string `yaml:"certificate-authority-data"`
		} `yaml:"cluster"`
	} `yaml:"clusters"`
	Contexts []struct {
		Name    string `yaml:"name"`
		Context struct {
			Cluster   string `yaml:"cluster"`
			User      string `yaml:"user"`
			Namespace string `yaml:"namespace"`
		} `yaml:"context"`
	} `yaml:"contexts"`
	Current string `yaml:"current-context"`
	Users   []struct {
		Name string `yaml:"name"`
		User struct {
			Key string `yaml:"client-key-data"`
		} `yaml:"user"`
	} `yaml:"users"`
}

func TestRewriteKubeconfig(t *testing.T) {
	t.Parallel()
	cases := []struct{ server, address, want string }{
		{"https://localhost:6443", "192.168.1.20", "https://192.168.1.20:6443"},
		{"https://127.0.0.1:6443", "nixos-mini.lan", "https://nixos-mini.lan:6443"},
		{"https://[::1]:6443", "fd00::20", "https://[fd00::20]:6443"},
		{"https://localhost", "fd00::20", "https://[fd00::20]"},
		{"https://127.0.0.2:443", "10.1.1.1", "https://10.1.1.1:443"},
		// A server that is already reachable is left as it is.
		{"https://k8s.example.org:6443", "192.168.1.20", "https://k8s.example.org:6443"},
	}
	for _, c := range cases {
		in := strings.Replace(k0sAdmin, "https://localhost:6443", c.server, 1)
		out, err := RewriteKubeconfig([]byte(in), "nixos-mini", c.address)
		if err != nil {
			t.Fatalf("%s: %v", c.server, err)
		}
		var kc kubeconfigDoc
		if err := yaml.Unmarshal(out, &kc); err != nil {
			t.Fatal(err)
		}
		if got := kc.Clusters[0].Cluster.Server; got != c.want {
			t.Errorf("%s with %s: server %s, want %s", c.server, c.address, got, c.want)
		}
		if kc.Current != "nixos-mini" || kc.Contexts[0].Name != "nixos-mini" || kc.Clusters[0].Name != "nixos-mini" || kc.Users[0].Name != "nixos-mini" ||
			kc.Contexts[0].Context.Cluster != "nixos-mini" || kc.Contexts[0].Context.User != "nixos-mini" {
			t.Errorf("names not rewritten:\n%s", out)
		}
		if kc.Users[0].User.Key != "S0VZCg==" || kc.Clusters[0].Cluster.CA != "Q0EK" || kc.Contexts[0].Context.Namespace != "default" {
			t.Errorf("credentials or namespace lost:\n%s", out)
		}
	}
}

// Only the current context and what it uses are renamed; other clusters
// keep their names.
func TestRewriteKubeconfigKeepsOtherContexts(t *testing.T) {
	t.Parallel()
	in := k0sAdmin + `
`
	in = strings.Replace(in, "contexts:\n", "contexts:\n- context:\n    cluster: other\n    user: other\n  name: other\n", 1)
	in = strings.Replace(in, "clusters:\n", "clusters:\n- cluster:\n    server: https://127.0.0.1:7443\n  name: other\n", 1)
	out, err := RewriteKubeconfig([]byte(in), "nixos-mini", "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	var kc kubeconfigDoc
	if err := yaml.Unmarshal(out, &kc); err != nil {
		t.Fatal(err)
	}
	if kc.Clusters[0].Name != "other" || kc.Contexts[0].Name != "other" || kc.Clusters[1].Name != "nixos-mini" {
		t.Errorf("renamed the wrong entries:\n%s", out)
	}
}

func TestRewriteKubeconfigRefusesNonsense(t *testing.T) {
	t.Parallel()
	for name, in := range map[string]string{
		"not yaml":          "{{{",
		"a list":            "- a\n",
		"no contexts":       "apiVersion: v1\nclusters: []\n",
		"dangling current":  strings.Replace(k0sAdmin, "current-context: Default", "current-context: nope", 1),
		"dangling cluster":  strings.Replace(k0sAdmin, "  name: local", "  name: elsewhere", 1),
		"server is not url": strings.Replace(k0sAdmin, "https://localhost:6443", "localhost", 1),
	} {
		_, err := RewriteKubeconfig([]byte(in), "h", "192.0.2.1")
		if err == nil {
			t.Errorf("%s: accepted", name)
		} else if strings.Contains(err.Error(), "S0VZ") {
			t.Errorf("%s: the error quotes the document: %v", name, err)
		}
	}
}

func TestKubeconfigSource(t *testing.T) {
	t.Parallel()
	cases := []struct {
		path, command string
		want          hostops.KubeconfigSource
		name          string
	}{
		{"", "", hostops.KubeconfigSource{}, "k0s kubeconfig admin"},
		{"/var/lib/k0s/pki/admin.conf", "", hostops.KubeconfigSource{Path: "/var/lib/k0s/pki/admin.conf"}, "/var/lib/k0s/pki/admin.conf"},
		{"", `k3s kubectl config view --raw`, hostops.KubeconfigSource{Argv: []string{"k3s", "kubectl", "config", "view", "--raw"}}, "k3s kubectl config view --raw"},
		// Shell syntax in the command is split into words, never kept as code.
		{"", `cat '/etc/x; rm -rf /' $(id)`, hostops.KubeconfigSource{Argv: []string{"cat", "/etc/x; rm -rf /", "$(id)"}}, "cat /etc/x; rm -rf / $(id)"},
	}
	for _, c := range cases {
		src, err := ParseKubeconfigSource(c.path, c.command)
		if err != nil {
			t.Fatalf("%q %q: %v", c.path, c.command, err)
		}
		if !reflect.DeepEqual(src, c.want) || src.String() != c.name {
			t.Errorf("%q %q: %#v (%s), want %#v (%s)", c.path, c.command, src, src, c.want, c.name)
		}
	}
	for _, bad := range [][2]string{
		{"relative/admin.conf", ""},
		{"/var/../etc/shadow", ""},
		{"/a\nb", ""},
		{"", "-o ProxyCommand=x"},
		{"", "k0s 'unterminated"},
		{"", "k0s\x07"},
		{"/a", "k0s"},
	} {
		if _, err := ParseKubeconfigSource(bad[0], bad[1]); err == nil {
			t.Errorf("%q %q accepted", bad[0], bad[1])
		}
	}
}

// cluster answers AdminKubeconfig with one result.
type cluster struct {
	data []byte
	err  error
}

func (c cluster) AdminKubeconfig(context.Context, hostops.KubeconfigSource) ([]byte, error) {
	return c.data, c.err
}

func (cluster) Close() error { return nil }

// clusterHosts opens every host as its cluster; it opens nothing else.
type clusterHosts struct {
	hostops.Hosts
	c cluster
}

func (h clusterHosts) ConnectCluster(context.Context, remote.Route, bool) (hostops.Cluster, error) {
	return h.c, nil
}

// Each way a read fails is one error line naming the source and the host,
// with the hint that fits, and never the output.
func TestFetchKubeconfigErrors(t *testing.T) {
	t.Parallel()
	r := remote.Route{Name: "mini", HostName: "192.0.2.7", Port: 22, User: "admin"}
	k0s := hostops.KubeconfigSource{}
	for _, c := range []struct {
		err       error
		elevate   bool
		msg, hint string
	}{
		{hostops.ErrNoKubeconfig, false, "k0s kubeconfig admin on mini (admin@192.0.2.7) printed nothing", "check the host's admin kubeconfig"},
		{hostops.ErrKubeconfigTooLarge, false, "printed more than 1048576 bytes: not a kubeconfig", "--remote-path / --remote-command"},
		{&hostops.ScriptError{ExitCode: 3, StderrTail: "starting\nError: no admin\n"}, false, "k0s kubeconfig admin on mini (admin@192.0.2.7) failed (exit 3): Error: no admin", "name another source"},
		{&hostops.ScriptError{ExitCode: 1, StderrTail: "sudo: a password is required\n"}, true, "failed (exit 1): sudo: a password is required", "sudo -n needs a password on the host"},
		{&hostops.ScriptError{ExitCode: 1, StderrTail: "sudo: a password is required\n"}, false, "failed (exit 1)", "name another source"},
		{context.Canceled, false, "k0s kubeconfig admin on mini (admin@192.0.2.7) failed: context canceled", "name another source"},
	} {
		_, err := FetchKubeconfig(context.Background(), clusterHosts{c: cluster{data: []byte("S0VZ"), err: c.err}}, r, c.elevate, k0s)
		if err == nil || !strings.Contains(err.Error(), c.msg) || !strings.Contains(fault.HintOf(err), c.hint) || strings.Contains(err.Error(), "S0VZ") {
			t.Errorf("%v: %v (hint %q); want %q, hint %q", c.err, err, fault.HintOf(err), c.msg, c.hint)
		}
		if errors.Is(c.err, context.Canceled) && !errors.Is(err, context.Canceled) {
			t.Errorf("the cancellation is lost: %v", err)
		}
	}
}

// A dry run's stand-in kubeconfig goes through the same rewrite as a real
// one: the host's name, its address, placeholders for its secrets.
func TestFetchKubeconfigDryRunAnswersAStandIn(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	r := remote.Route{Name: "mini", HostName: "192.0.2.7", Port: 22, User: "admin", Dest: "mini"}
	raw, err := FetchKubeconfig(context.Background(), hostops.PrintConnector{Out: &out}, r, true, hostops.KubeconfigSource{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(out.String(), ` mini 'sh -c "<kubeconfig-read.sh>" nixctl-kubeconfig-read / 1 k0s-admin'`+"\n") {
		t.Errorf("printed %q", out.String())
	}
	plain, err := RewriteKubeconfig(raw, "mini", r.HostName)
	if err != nil {
		t.Fatalf("the stand-in does not rewrite: %v\n%s", err, raw)
	}
	var kc kubeconfigDoc
	if err := yaml.Unmarshal(plain, &kc); err != nil || kc.Current != "mini" || kc.Clusters[0].Name != "mini" || kc.Clusters[0].Cluster.Server != "https://192.0.2.7:6443" {
		t.Errorf("rewritten stand-in (%v):\n%s", err, plain)
	}
}
