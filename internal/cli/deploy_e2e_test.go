package cli

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nixctl/nixctl/internal/deploy"
	"github.com/nixctl/nixctl/internal/nix"
	"github.com/nixctl/nixctl/internal/testutil"
	"github.com/nixctl/nixctl/internal/testutil/fakecmd"
)

// fakeRebuildOnPath puts this test binary on a PATH as nixos-rebuild (it
// answers as fakecmd from the returned directory's table and logs there);
// vars are the PATH and the table's place, for a run's environment.
func fakeRebuildOnPath(t *testing.T) (fake string, vars map[string]string) {
	t.Helper()
	fake, bin := t.TempDir(), t.TempDir()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(exe, filepath.Join(bin, "nixos-rebuild")); err != nil {
		t.Fatal(err)
	}
	return fake, map[string]string{"PATH": bin + ":" + os.Getenv("PATH"), fakecmd.DirEnv: fake}
}

// TestDeployDemoFleetEndToEnd deploys the demo fleet's two cluster hosts
// with every real part this machine has: real nix checks, evaluates and
// builds both systems in one nix build, real sshds stand in for the hosts
// (preflight, locks, health), and only nixos-rebuild is a fake (this test
// binary under that name) that records its argv. Then nixctl status reads
// what the deploy left and compares it with the flake.
func TestDeployDemoFleetEndToEnd(t *testing.T) {
	testutil.Require(t, "nix")
	type host struct {
		sshd *testutil.SSHD
		root string
	}
	hosts := map[string]host{}
	var known []byte
	for _, name := range []string{"nixos-mini", "nixos-node-1"} {
		s := testutil.StartSSHD(t, testutil.SSHDOptions{OwnSystem: true})
		hosts[name] = host{s, s.Root()}
		b, _ := os.ReadFile(s.KnownHostsFile)
		known = append(known, b...)
	}
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer web.Close()

	dir := testutil.CopyDir(t, filepath.Join(testutil.RepoRoot(t), "nix", "demo"))
	mini, node := hosts["nixos-mini"], hosts["nixos-node-1"]
	inv := fmt.Sprintf(`defaults: {parallel: 2}
hosts:
  - name: nixos-mini
    address: 127.0.0.1
    port: %d
    identity: %s
    tags: [cluster]
    health:
      - tcp: "127.0.0.1:%d"
      - http: %q
      - command: "test -d /var/lib/nixctl/deploy.lock"
  - {name: nixos-node-1, address: 127.0.0.1, port: %d, identity: %s, tags: [cluster]}
  - {name: gateway, address: 192.0.2.1, tags: [edge]}
`, mini.sshd.Port, mini.sshd.ClientKeyFile, mini.sshd.Port, web.URL, node.sshd.Port, node.sshd.ClientKeyFile)
	home := t.TempDir()
	testutil.WriteFiles(t, dir, map[string]string{"nixctl.yaml": inv})
	testutil.WriteFiles(t, home, map[string]string{".ssh/known_hosts": string(known), ".ssh/config": "Host *\n  ServerAliveInterval 30\n"})
	fake, vars := fakeRebuildOnPath(t)
	// The bash nixos-rebuild: it evaluates the flake again and activates
	// what it finds; nixctl then checks that it is what it built.
	testutil.WriteFiles(t, fake, map[string]string{"nixos-rebuild.yaml": "flavour: bash\nresponses:\n  - args: [switch, --flake]\n    activate: true\n"})
	env := map[string]string{"HOME": home, "XDG_STATE_HOME": filepath.Join(home, "state"), "USER": "alice"}
	maps.Copy(env, vars)

	r := runIn(t, dir, nil, env, "deploy", "@cluster", "--yes", "--json")
	if r.code != 0 {
		t.Fatalf("exit %d:\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	var rep deploy.Report
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || len(rep.Hosts) != 2 {
		t.Fatalf("report %q: %v", r.stdout, err)
	}
	calls, err := fakecmd.Calls(fake, "nixos-rebuild")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]fakecmd.Call{}
	for _, c := range calls {
		if len(c.Argv) >= 4 {
			got[strings.Join(c.Argv[:4], " ")] = c
		}
	}
	// One probe told nixctl which nixos-rebuild it is and that it has no
	// --store-path.
	if len(calls) != 3 || strings.Join(calls[0].Argv, " ") != "nixos-rebuild "+nix.ProbeFlag {
		t.Errorf("calls %v: want the probe, then the two activations", calls)
	}
	for name, h := range hosts {
		c, ok := got["nixos-rebuild switch --flake "+dir+"#"+name]
		if !ok {
			t.Errorf("%s was not activated: %v", name, calls)
			continue
		}
		if want := []string{"--target-host", "root@127.0.0.1"}; strings.Join(c.Argv[4:], " ") != strings.Join(want, " ") {
			t.Errorf("%s: argv %q", name, c.Argv)
		}
		// HOME is not root's home in the password database, where the system
		// ssh looks: nixctl names the configuration and known_hosts it read.
		want := fmt.Sprintf("-F %s -p %d -i %s -o UserKnownHostsFile=%s", filepath.Join(home, ".ssh/config"), h.sshd.Port, h.sshd.ClientKeyFile, filepath.Join(home, ".ssh/known_hosts"))
		if c.Env["NIX_SSHOPTS"] != want {
			t.Errorf("%s: NIX_SSHOPTS %q, want %q", name, c.Env["NIX_SSHOPTS"], want)
		}
		if _, err := os.Stat(filepath.Join(h.root, "var/lib/nixctl/last-deploy.json")); err != nil {
			t.Errorf("%s: no last-deploy record: %v", name, err)
		}
	}
	for _, stage := range []string{"nixos-mini: check", "nixos-mini: preflight", "nixos-mini: lock", "nixos-mini: build", "nixos-mini: activate", "nixos-mini: health", "nixos-mini: ok"} {
		if !strings.Contains(r.stderr, stage) {
			t.Errorf("progress lacks %q:\n%s", stage, r.stderr)
		}
	}

	// status: each host runs exactly the system the deploy built; once
	// node-1 runs something older, it is behind.
	r = runIn(t, dir, nil, env, "status", "@cluster", "--json")
	var sts []deploy.HostStatus
	if err := json.Unmarshal([]byte(r.stdout), &sts); err != nil || r.code != 0 || len(sts) != 2 {
		t.Fatalf("status: exit %d %q %s", r.code, r.stdout, r.stderr)
	}
	for i, st := range sts {
		if st.Drift != "up to date" || st.Current != rep.Hosts[i].StorePath || !strings.Contains(st.Expected, "-nixos-system-"+st.Host+"-") || st.LastDeploy == nil || st.LastDeploy.Result != "ok" {
			t.Fatalf("status after the deploy: %+v (built %s)", st, rep.Hosts[i].StorePath)
		}
	}
	link := filepath.Join(node.root, "run/current-system")
	if err := os.Remove(link); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/nix/store/00000000000000000000000000000000-nixos-system-nixos-node-1-24.11", link); err != nil {
		t.Fatal(err)
	}
	r = runIn(t, dir, nil, env, "status", "@cluster")
	if r.code != 0 || !strings.Contains(r.stdout, "nixos-mini\tyes\t") || !strings.Contains(r.stdout, "\tup to date\t") || !strings.Contains(r.stdout, "nixos-node-1\tyes\t") || !strings.Contains(r.stdout, "\tbehind\t") {
		t.Errorf("status: exit %d:\n%s\n%s", r.code, r.stdout, r.stderr)
	}

	// A watchdog left armed on the host (its nixctl died before confirming)
	// is shown with what it will do and where to look at it.
	testutil.WriteFiles(t, mini.root, map[string]string{"var/lib/nixctl/watchdog/armed": "runId=20261130-120000-abcdef\naction=switch\ngeneration=41\narmed=1764504000\nconfirm=30\nunit=nixctl-watchdog-20261130-120000-abcdef\n"})
	r = runIn(t, dir, nil, env, "status", "nixos-mini", "--no-eval")
	if want := "nixos-mini: magic rollback pending for run 20261130-120000-abcdef (unit nixctl-watchdog-20261130-120000-abcdef (systemctl status nixctl-watchdog-20261130-120000-abcdef)"; r.code != 0 || !strings.Contains(r.stdout, want) || !strings.Contains(r.stdout, "the host goes back to generation 41") {
		t.Errorf("status with a pending watchdog: exit %d:\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if err := os.Remove(filepath.Join(mini.root, "var/lib/nixctl/watchdog/armed")); err != nil {
		t.Fatal(err)
	}

	// rollback: nixos-rebuild switch --rollback through the same stages.
	r = runIn(t, dir, nil, env, "rollback", "nixos-mini", "--yes")
	if r.code != 0 || !strings.Contains(r.stdout, "nixos-mini\trollback\tok\t") {
		t.Fatalf("rollback: exit %d:\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	calls, _ = fakecmd.Calls(fake, "nixos-rebuild")
	if last := calls[len(calls)-1].Argv; strings.Join(last[:3], " ") != "nixos-rebuild switch --rollback" {
		t.Errorf("rollback ran %q", last)
	}
	// --to a generation the host does not have: the host fails, loudly.
	r = runIn(t, dir, nil, env, "rollback", "nixos-mini", "--to", "9", "--yes")
	if r.code != 10 || !strings.Contains(r.stderr, "nixctl: error: nixos-mini: ") {
		t.Errorf("rollback --to 9: exit %d:\n%s\n%s", r.code, r.stdout, r.stderr)
	}
}
