package hostops

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/nixctl/nixctl/internal/remote"
	"github.com/nixctl/nixctl/internal/testutil"
)

const adminConf = "apiVersion: v1\nkind: Config\n"

// clusterHost is a host whose scripts run here with sh under a fresh root
// whose bin/ comes first on the PATH, holding programs: a stand-in k0s
// that answers `k0s kubeconfig admin` and, when sudo is set, a sudo that
// records its arguments in ROOT/sudo.log and runs the rest (or refuses, as
// sudo -n does without a password rule, when refuse is set).
func clusterHost(t *testing.T, sudo, refuse bool) (*Host, string) {
	t.Helper()
	testutil.Require(t, "sh", "cat")
	root := t.TempDir()
	bin := filepath.Join(root, "bin")
	progs := map[string]string{
		"k0s": "#!/bin/sh\n[ \"$*\" = \"kubeconfig admin\" ] || { echo \"Error: unknown command \\\"$*\\\" for \\\"k0s\\\"\" >&2; exit 1; }\nprintf '" + adminConf + "'\n",
	}
	if sudo {
		s := "#!/bin/sh\necho \"$*\" >>" + filepath.Join(root, "sudo.log") + "\n"
		if refuse {
			s += "echo 'sudo: a password is required' >&2\nexit 1\n"
		} else {
			s += "[ \"$1 $2\" = \"-n --\" ] || exit 1\nshift 2\nexec \"$@\"\n"
		}
		progs["sudo"] = s
	}
	testutil.WriteFiles(t, bin, progs)
	for p := range progs {
		if err := os.Chmod(filepath.Join(bin, p), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	env := []string{"PATH=" + bin + ":" + os.Getenv("PATH"), "HOME=" + root, "USER=alice"}
	h, err := New(testutil.LocalConn{Env: env}, root, sudo, "local")
	if err != nil {
		t.Fatal(err)
	}
	return h, root
}

func TestAdminKubeconfigReadsEachSource(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h, root := clusterHost(t, false, false)
	testutil.WriteFiles(t, root, map[string]string{"var/lib/k0s/pki/admin.conf": "from the file\n"})
	for _, c := range []struct {
		src  KubeconfigSource
		want string
	}{
		{KubeconfigSource{}, adminConf},
		{KubeconfigSource{Path: "/var/lib/k0s/pki/admin.conf"}, "from the file\n"},
		{KubeconfigSource{Argv: []string{"k0s", "kubeconfig", "admin"}}, adminConf},
		// The user's words arrive as they are: nothing here parses them.
		{KubeconfigSource{Argv: []string{"printf", "%s|", "$(id)", "a; rm -rf /", "'q'"}}, "$(id)|a; rm -rf /|'q'|"},
	} {
		got, err := h.AdminKubeconfig(ctx, c.src)
		if err != nil || string(got) != c.want {
			t.Errorf("%s: %q, %v; want %q", c.src, got, err, c.want)
		}
	}
}

func TestAdminKubeconfigThroughSudo(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h, root := clusterHost(t, true, false)
	testutil.WriteFiles(t, root, map[string]string{"admin.conf": "from the file\n"})
	if got, err := h.AdminKubeconfig(ctx, KubeconfigSource{}); err != nil || string(got) != adminConf {
		t.Fatalf("k0s through sudo: %q, %v", got, err)
	}
	if got, err := h.AdminKubeconfig(ctx, KubeconfigSource{Path: "/admin.conf"}); err != nil || string(got) != "from the file\n" {
		t.Fatalf("file through sudo: %q, %v", got, err)
	}
	// Only the read runs as root: the script itself stays the login user's.
	want := "-n -- k0s kubeconfig admin\n-n -- cat -- " + root + "/admin.conf\n"
	if log, _ := os.ReadFile(filepath.Join(root, "sudo.log")); string(log) != want {
		t.Errorf("sudo ran:\n%s\nwant:\n%s", log, want)
	}

	// A password rule: sudo -n's own failure, its line on stderr.
	h, root = clusterHost(t, true, true)
	_, err := h.AdminKubeconfig(ctx, KubeconfigSource{})
	var se *ScriptError
	if !errors.As(err, &se) || se.ExitCode != 1 || !strings.Contains(se.StderrTail, "sudo: a password is required") {
		t.Errorf("refused sudo: %v", err)
	}
	if log, _ := os.ReadFile(filepath.Join(root, "sudo.log")); string(log) != "-n -- k0s kubeconfig admin\n" {
		t.Errorf("sudo was asked %q: no `sudo -n true` first, a rule may allow this read only", log)
	}
}

// A read that fails exits with its own code and says why on stderr; one
// that prints nothing or too much is refused without quoting it.
func TestAdminKubeconfigFailures(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h, root := clusterHost(t, false, false)
	testutil.WriteFiles(t, root, map[string]string{"empty.conf": ""})
	big := bytes.Repeat([]byte("k"), MaxKubeconfig+1)
	testutil.WriteFile(t, filepath.Join(root, "big.conf"), big, 0o600)
	testutil.WriteFile(t, filepath.Join(root, "max.conf"), big[:MaxKubeconfig], 0o600)

	for _, c := range []struct {
		src  KubeconfigSource
		code int
		tail string
	}{
		{KubeconfigSource{Argv: []string{"k0s", "kubeconfig", "create", "nobody"}}, 1, `unknown command "kubeconfig create nobody"`},
		{KubeconfigSource{Argv: []string{"sh", "-c", "echo broken >&2; exit 3"}}, 3, "broken"},
		{KubeconfigSource{Path: "/missing.conf"}, 1, "missing.conf"},
		{KubeconfigSource{Argv: []string{"no-such-program-here"}}, 127, "no-such-program-here"},
	} {
		_, err := h.AdminKubeconfig(ctx, c.src)
		var se *ScriptError
		if !errors.As(err, &se) || se.ExitCode != c.code || !strings.Contains(se.StderrTail, c.tail) || se.Script != "nixctl-kubeconfig-read" {
			t.Errorf("%s: %v; want exit %d saying %q", c.src, err, c.code, c.tail)
		}
	}
	if _, err := h.AdminKubeconfig(ctx, KubeconfigSource{Path: "/empty.conf"}); !errors.Is(err, ErrNoKubeconfig) {
		t.Errorf("nothing printed: %v", err)
	}
	if _, err := h.AdminKubeconfig(ctx, KubeconfigSource{Path: "/big.conf"}); !errors.Is(err, ErrKubeconfigTooLarge) || strings.Contains(err.Error(), "kkk") {
		t.Errorf("too large: %v", err)
	}
	if got, err := h.AdminKubeconfig(ctx, KubeconfigSource{Path: "/max.conf"}); err != nil || len(got) != MaxKubeconfig {
		t.Errorf("exactly the cap: %d bytes, %v", len(got), err)
	}
	for _, bad := range []KubeconfigSource{
		{Path: "relative.conf"},
		{Path: "/a/../b"},
		{Argv: []string{"-o", "x"}},
		{Path: "/a", Argv: []string{"cat"}},
	} {
		if _, err := h.AdminKubeconfig(ctx, bad); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

// The script checks its arguments before it runs anything: a bad one is
// exit 1 with the usage on stderr.
func TestKubeconfigReadScriptValidatesItsArguments(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h, root := clusterHost(t, false, false)
	for _, args := range [][]string{
		{},
		{"0"},
		{"2", "k0s-admin"},
		{"yes", "k0s-admin"},
		{"0", "k0s-admin", "extra"},
		{"0", "path"},
		{"0", "path", "relative"},
		{"0", "path", "/a", "/b"},
		{"0", "command"},
		{"0", "command", "-rf"},
		{"0", "nonsense"},
	} {
		_, err := h.run(ctx, scriptKubeconfigRead, false, nil, nil, args...)
		var se *ScriptError
		if !errors.As(err, &se) || se.ExitCode != ExitFailed || !strings.Contains(se.StderrTail, "usage: kubeconfig-read") {
			t.Errorf("%q: %v", args, err)
		}
	}
	if entries, _ := os.ReadDir(root); len(entries) != 1 {
		t.Errorf("a refused call left files: %v", entries)
	}
}

// A dry run prints the read as its ssh line and answers a kubeconfig that
// stands in for the host's: valid, naming the host, holding no secret.
func TestAdminKubeconfigPrinted(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	r := remote.Route{User: "root", HostName: "192.0.2.7", Port: 2222, Dest: "root@192.0.2.7"}
	c, err := PrintConnector{Out: &out}.ConnectCluster(context.Background(), r, true)
	if err != nil {
		t.Fatal(err)
	}
	data, err := c.AdminKubeconfig(context.Background(), KubeconfigSource{Path: "/var/lib/k0s/pki/admin.conf"})
	if err != nil {
		t.Fatal(err)
	}
	want := `'sh -c "<kubeconfig-read.sh>" nixctl-kubeconfig-read / 1 path /var/lib/k0s/pki/admin.conf'` + "\n"
	if !strings.HasPrefix(out.String(), "ssh ") || !strings.HasSuffix(out.String(), " "+want) || strings.Count(out.String(), "\n") != 1 {
		t.Errorf("printed %q, want the ssh line ending in %q", out.String(), want)
	}
	var kc struct {
		Current  string `yaml:"current-context"`
		Clusters []struct {
			Cluster struct {
				Server string `yaml:"server"`
			} `yaml:"cluster"`
		} `yaml:"clusters"`
	}
	if err := yaml.Unmarshal(data, &kc); err != nil || !strings.Contains(kc.Current, r.String()) || len(kc.Clusters) != 1 || kc.Clusters[0].Cluster.Server != "https://localhost:6443" {
		t.Errorf("planned kubeconfig (%v):\n%s", err, data)
	}
}
