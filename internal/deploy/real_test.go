package deploy

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nixctl/nixctl/internal/execx"
	"github.com/nixctl/nixctl/internal/fault"
	"github.com/nixctl/nixctl/internal/hostops"
	"github.com/nixctl/nixctl/internal/inventory"
	"github.com/nixctl/nixctl/internal/nix"
	"github.com/nixctl/nixctl/internal/remote"
	"github.com/nixctl/nixctl/internal/testutil"
)

// realHost is a real sshd on 127.0.0.1 in a mount namespace of its own:
// its nixctl state (locks, records), system profile and /run are its own,
// and the test sees them under Root.
type realHost struct {
	*testutil.SSHD
	Root string
}

func startRealHost(t *testing.T, user string) *realHost {
	t.Helper()
	testutil.Require(t, "nix", "sudo")
	s := testutil.StartSSHD(t, testutil.SSHDOptions{User: user, OwnSystem: true})
	return &realHost{SSHD: s, Root: s.Root()}
}

func (h *realHost) yaml(name, extra string) string {
	return fmt.Sprintf("  - {name: %s, address: 127.0.0.1, port: %d, user: %s, identity: %s%s}\n", name, h.Port, h.User, h.ClientKeyFile, extra)
}

// setGeneration makes the host's system profile point at generation n.
func (h *realHost) setGeneration(t *testing.T, n int) {
	t.Helper()
	dir := filepath.Join(h.Root, "nix/var/nix/profiles")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "system")
	_ = os.Remove(link)
	gen := fmt.Sprintf("system-%d-link", n)
	if err := os.Symlink("/nix/store/fake-system", filepath.Join(dir, gen)); err != nil && !os.IsExist(err) {
		t.Fatal(err)
	}
	if err := os.Symlink(gen, link); err != nil {
		t.Fatal(err)
	}
}

func (h *realHost) exists(rel string) bool {
	_, err := os.Lstat(filepath.Join(h.Root, rel))
	return err == nil
}

type realRun struct {
	fleet  *inventory.Fleet
	rec    *execx.Recorder
	dialer *remote.SSH
	opts   Options
	// knownHosts holds the hosts' keys for the system ssh.
	knownHosts string
	// evaluates is what nixos-rebuild --flake finds when it evaluates the
	// flake again (nil: what the build built).
	evaluates func(name string) string
	// standInActivates: the test's nixos-rebuild makes the host run its
	// system itself (activatingOverSSH stays out).
	standInActivates bool
}

// knowing is nixctl's SSH for a user whose ~/.ssh/known_hosts holds the
// known files' keys.
func knowing(t *testing.T, known ...string) *remote.SSH {
	t.Helper()
	var kh strings.Builder
	for _, f := range known {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		kh.Write(data)
	}
	home := t.TempDir()
	testutil.WriteFiles(t, home, map[string]string{".ssh/known_hosts": kh.String()})
	return routesIn(t, home)
}

func newRealRun(t *testing.T, hostsYAML string, known ...string) *realRun {
	f := fakeFleet(t, "hosts:\n"+hostsYAML)
	var kh []byte
	for _, k := range known {
		b, err := os.ReadFile(k)
		if err != nil {
			t.Fatal(err)
		}
		kh = append(kh, b...)
	}
	khFile := filepath.Join(t.TempDir(), "known_hosts")
	if err := os.WriteFile(khFile, kh, 0o644); err != nil {
		t.Fatal(err)
	}
	return &realRun{fleet: f, rec: &execx.Recorder{}, dialer: knowing(t, known...), knownHosts: khFile,
		opts: Options{Action: "switch", NoCheck: true, Flavour: nix.FlavourBash, HealthInterval: 10 * time.Millisecond}}
}

// activatingOverSSH does what nixos-rebuild does last on the target after
// the stand-in answered success: over the system ssh, with NIX_SSHOPTS, the
// host is made to run the system it activated (--store-path's, or what the
// flake evaluates to now).
type activatingOverSSH struct {
	execx.Runner
	t         *testing.T
	known     string
	evaluates func(name string) string
}

func (a activatingOverSSH) Run(ctx context.Context, c execx.Cmd) (*execx.Result, error) {
	res, err := a.Runner.Run(ctx, c)
	action, system, target := activated(c.Argv, a.evaluates)
	if err != nil || action == "" || action == "boot" {
		return res, err
	}
	argv := []string{"ssh", "-o", "BatchMode=yes", "-o", "UserKnownHostsFile=" + a.known}
	for _, e := range c.Env {
		if opts, ok := strings.CutPrefix(e, "NIX_SSHOPTS="); ok {
			argv = append(argv, strings.Fields(opts)...)
		}
	}
	script := `ln -sfn "$1" /run/current-system`
	argv = append(argv, target, "--", "sudo", "-n", "sh", "-c", execx.Quote([]string{script}), "activate", system)
	if out, err := exec.CommandContext(ctx, argv[0], argv[1:]...).CombinedOutput(); err != nil {
		a.t.Errorf("activating %s on %s: %v: %s", system, target, err, out)
	}
	return res, err
}

func (r *realRun) exec(t *testing.T) *Report {
	t.Helper()
	p, err := NewPlan(r.fleet, r.fleet.Hosts, r.opts, r.dialer)
	if err != nil {
		t.Fatal(err)
	}
	var runner execx.Runner = activatingOverSSH{Runner: r.rec, t: t, known: r.knownHosts, evaluates: r.evaluates}
	if r.standInActivates {
		runner = r.rec
	}
	return Run(context.Background(), Env{Runner: runner, Hosts: &hostops.SSH{Dialer: r.dialer}, Events: &events{}, Fleet: r.fleet,
		RunID: "run-real", Who: "alice@laptop", GitRev: "abc"}, p)
}

const appCheck = `, health: [{command: "test -e /run/app-ok", timeout: 2s}]`

func TestRealDeployLockAndCommandHealth(t *testing.T) {
	h := startRealHost(t, "")
	h.setGeneration(t, 12)
	r := newRealRun(t, h.yaml("web", appCheck), h.KnownHostsFile)
	buildStub(r.rec)
	r.rec.RegisterStub(&execx.Stub{Prefix: []string{"nixos-rebuild", "switch"}, Func: func(execx.Cmd) (string, int) {
		// While activating, the host is locked by this run.
		data, err := os.ReadFile(filepath.Join(h.Root, hostops.DeployLockPath, "info"))
		if err != nil || !strings.Contains(string(data), `"runId":"run-real"`) {
			return "", 3
		}
		h.setGeneration(t, 13)
		_ = os.WriteFile(filepath.Join(h.Root, "run/app-ok"), nil, 0o644)
		return "", 0
	}})
	rep := r.exec(t)
	r.rec.Verify(t)
	web := result(t, rep, "web")
	if !web.OK() || web.Generation != 13 {
		t.Fatalf("web: %+v", web)
	}
	if h.exists(hostops.DeployLockPath) {
		t.Error("the lock must be released")
	}
	data, err := os.ReadFile(filepath.Join(h.Root, hostops.LastDeployPath))
	if err != nil {
		t.Fatal(err)
	}
	var li LockInfo
	if err := json.Unmarshal(data, &li); err != nil || li.Result != ResultOK || li.Generation != 13 || li.Who != "alice@laptop" {
		t.Errorf("last deploy record %s (%v)", data, err)
	}
	// NIX_SSHOPTS gives the system ssh what nixctl used: port and key.
	env := r.rec.Calls()[1].Cmd.Env
	if want := fmt.Sprintf("NIX_SSHOPTS=-p %d -i %s", h.Port, h.ClientKeyFile); len(env) != 1 || env[0] != want {
		t.Errorf("env %q, want %q", env, want)
	}
}

func TestRealHealthFailureRollsBack(t *testing.T) {
	h := startRealHost(t, "")
	r := newRealRun(t, h.yaml("web", appCheck), h.KnownHostsFile)
	buildStub(r.rec)
	r.rec.Register([]string{"nixos-rebuild", "switch", "--flake"}, "", 0)
	r.rec.RegisterStub(&execx.Stub{Prefix: []string{"nixos-rebuild", "switch", "--rollback"}, Func: func(execx.Cmd) (string, int) {
		_ = os.WriteFile(filepath.Join(h.Root, "run/app-ok"), nil, 0o644)
		return "", 0
	}})
	rep := r.exec(t)
	r.rec.Verify(t)
	if web := result(t, rep, "web"); web.Result != ResultRolledBack {
		t.Fatalf("web: %+v", web)
	}
	if rep.Kind() != fault.RolledBack {
		t.Errorf("kind %v", rep.Kind())
	}
	if h.exists(hostops.DeployLockPath) {
		t.Error("the lock must be released")
	}
}

func TestRealHostKeyStopsTheHost(t *testing.T) {
	good := startRealHost(t, "")
	unknown := startRealHost(t, "")
	changed := startRealHost(t, "")
	kh := filepath.Join(t.TempDir(), "known_hosts")
	var lines []byte
	for _, h := range []*realHost{good, changed} {
		b, _ := os.ReadFile(h.KnownHostsFile)
		lines = append(lines, b...)
	}
	if err := os.WriteFile(kh, lines, 0o644); err != nil {
		t.Fatal(err)
	}
	changed.SetHostKey(testutil.NewEd25519Key(t))
	r := newRealRun(t, good.yaml("good", "")+unknown.yaml("unknown", "")+changed.yaml("changed", ""), kh)
	buildStub(r.rec)
	r.rec.Register([]string{"nixos-rebuild", "switch", "--flake", "/fleet#good"}, "", 0)
	rep := r.exec(t)
	r.rec.Verify(t)
	if !result(t, rep, "good").OK() {
		t.Errorf("good: %+v", result(t, rep, "good"))
	}
	u, c := result(t, rep, "unknown"), result(t, rep, "changed")
	if u.Stage != StagePreflight || !strings.Contains(u.Error, "is unknown") || !strings.Contains(u.Hint, "ssh-keyscan -p") {
		t.Errorf("unknown: %+v", u)
	}
	if c.Stage != StagePreflight || !strings.Contains(c.Error, "CHANGED") || !strings.Contains(c.Hint, "ssh-keygen -R") {
		t.Errorf("changed: %+v", c)
	}
	if rep.Kind() != fault.Partial {
		t.Errorf("kind %v", rep.Kind())
	}
	for _, h := range []*realHost{unknown, changed} {
		if entries, err := os.ReadDir(filepath.Join(h.Root, hostops.StateDir)); err != nil || len(entries) != 0 {
			t.Errorf("nothing may be run on a host whose key is not verified: %v %v", entries, err)
		}
	}
}

func TestRealLockHeldAndBroken(t *testing.T) {
	h := startRealHost(t, "")
	if err := os.MkdirAll(filepath.Join(h.Root, hostops.DeployLockPath), 0o755); err != nil {
		t.Fatal(err)
	}
	info := `{"runId":"20261125-200000-aaaaaa","who":"bob@desk","started":"2026-11-25T20:00:00Z","gitRev":"f00d","action":"boot"}`
	if err := os.WriteFile(filepath.Join(h.Root, hostops.DeployLockPath, "info"), []byte(info), 0o644); err != nil {
		t.Fatal(err)
	}
	r := newRealRun(t, h.yaml("web", ""), h.KnownHostsFile)
	rep := r.exec(t)
	web := result(t, rep, "web")
	if web.Stage != StageLock || !strings.Contains(web.Error, "locked by bob@desk") || !strings.Contains(web.Error, "rev f00d") || !strings.Contains(web.Hint, "--break-lock") {
		t.Fatalf("web: %+v", web)
	}
	if data, _ := os.ReadFile(filepath.Join(h.Root, hostops.DeployLockPath, "info")); string(data) != info {
		t.Fatal("someone else's lock must stay untouched")
	}

	r = newRealRun(t, h.yaml("web", ""), h.KnownHostsFile)
	r.opts.BreakLock = true
	buildStub(r.rec)
	r.rec.Register([]string{"nixos-rebuild"}, "", 0)
	if rep := r.exec(t); rep.Kind() != fault.OK {
		t.Fatalf("--break-lock: %+v", rep.Hosts)
	}
	if h.exists(hostops.DeployLockPath) {
		t.Error("the lock must be released")
	}
}

func TestRealSudoPreflight(t *testing.T) {
	h := startRealHost(t, "nixctl-test")
	r := newRealRun(t, h.yaml("web", ", sudo: true"), h.KnownHostsFile)
	rep := r.exec(t)
	web := result(t, rep, "web")
	if web.Stage != StagePreflight || !strings.Contains(web.Error, "sudo -n true failed") || !strings.Contains(web.Hint, "without a password") {
		t.Fatalf("web: %+v", web)
	}

	r = newRealRun(t, h.yaml("web", ""), h.KnownHostsFile)
	if web := result(t, r.exec(t), "web"); !strings.Contains(web.Error, "not root and sudo is off") {
		t.Fatalf("web: %+v", web)
	}

	// root with sudo: true: sudo -n works for root.
	root := startRealHost(t, "")
	r = newRealRun(t, root.yaml("web", ", sudo: true"), root.KnownHostsFile)
	buildStub(r.rec)
	r.rec.Register([]string{"nixos-rebuild", "switch", "--flake", "/fleet#web", "--target-host", "root@127.0.0.1", "--use-remote-sudo"}, "", 0)
	if rep := r.exec(t); rep.Kind() != fault.OK {
		t.Fatalf("root with sudo: %+v", rep.Hosts)
	}
	r.rec.Verify(t)
}

func TestRealRollbackToGeneration(t *testing.T) {
	h := startRealHost(t, "")
	// nix-env --switch-generation on a fake profile: a script stands in for
	// the generation's switch-to-configuration.
	h.setGeneration(t, 5)
	r := newRealRun(t, h.yaml("web", ""), h.KnownHostsFile)
	r.opts.Rollback, r.opts.RollbackTo = true, 4
	p, err := NewPlan(r.fleet, r.fleet.Hosts, r.opts, r.dialer)
	if err != nil {
		t.Fatal(err)
	}
	if cmd := p.Hosts[0].RollbackRemote.command(false); !strings.HasSuffix(cmd, " nixctl-system-switch-generation / 4") {
		t.Fatalf("remote command %s", cmd)
	}
	rep := r.exec(t)
	// nix-env refuses: generation 4 does not exist in this fake profile.
	web := result(t, rep, "web")
	if web.Stage != StageRollback || web.Result != ResultFailed {
		t.Fatalf("web: %+v", web)
	}
	if h.exists(hostops.DeployLockPath) {
		t.Error("the lock must be released")
	}
}

func TestRealStatus(t *testing.T) {
	h := startRealHost(t, "")
	h.setGeneration(t, 12)
	mk := func(dir, version, kernel string) string {
		p := filepath.Join(h.Root, dir)
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
		_ = os.WriteFile(filepath.Join(p, "nixos-version"), []byte(version), 0o644)
		_ = os.Symlink(kernel, filepath.Join(p, "kernel"))
		return p
	}
	cur := mk("sys-b", "25.05.1234", "/nix/store/k2/bzImage")
	booted := mk("sys-a", "25.05.1000", "/nix/store/k1/bzImage")
	_ = os.MkdirAll(filepath.Join(h.Root, "run"), 0o755)
	_ = os.Symlink(cur, filepath.Join(h.Root, "run/current-system"))
	_ = os.Symlink(booted, filepath.Join(h.Root, "run/booted-system"))
	_ = os.MkdirAll(filepath.Join(h.Root, "var/lib/nixctl"), 0o755)
	_ = os.WriteFile(filepath.Join(h.Root, hostops.LastDeployPath), []byte(`{"runId":"r1","who":"alice@laptop","action":"switch","result":"ok","gitRev":"abc"}`), 0o644)
	_ = os.MkdirAll(filepath.Join(h.Root, hostops.DeployLockPath), 0o755)
	_ = os.WriteFile(filepath.Join(h.Root, hostops.DeployLockPath, "info"), []byte(`{"runId":"r2","who":"bob@desk","action":"boot"}`), 0o644)
	down := startRealHost(t, "")
	down.Stop()

	f := fakeFleet(t, "hosts:\n"+h.yaml("web", "")+h.yaml("old", "")+down.yaml("down", ""))
	rec := &execx.Recorder{}
	// One evaluation answers for every host.
	rec.RegisterStub(testutil.EvalStub(map[string]testutil.EvalAnswer{
		"web":  {DrvPath: "/nix/store/web.drv", OutPath: cur},
		"old":  {DrvPath: "/nix/store/newer-system.drv", OutPath: "/nix/store/newer-system"},
		"down": {DrvPath: "/nix/store/x.drv", OutPath: "/nix/store/x"},
	}))
	d := knowing(t, h.KnownHostsFile, down.KnownHostsFile)
	sts := Status(context.Background(), rec, &hostops.SSH{Dialer: d}, d, f, f.Hosts, StatusOptions{Parallel: 3})
	rec.Verify(t)
	web, old, dn := sts[0], sts[1], sts[2]
	if !web.Reachable || web.NixOSVersion != "25.05.1234" || web.Current != cur || web.Booted != booted || !web.RebootNeeded {
		t.Errorf("web: %+v", web)
	}
	if web.Generation != 12 || web.GenerationDate.IsZero() || web.LastDeploy == nil || web.LastDeploy.Who != "alice@laptop" {
		t.Errorf("web: generation %d %v, last %+v", web.Generation, web.GenerationDate, web.LastDeploy)
	}
	if web.Locked == nil || web.Locked.Who != "bob@desk" {
		t.Errorf("web is being deployed by bob: %+v", web.Locked)
	}
	if web.Drift != "up to date" || old.Drift != "behind" {
		t.Errorf("drift: web %q, old %q", web.Drift, old.Drift)
	}
	if dn.Reachable || !strings.Contains(dn.Error, "connection refused") || !strings.Contains(dn.Hint, "check that 127.0.0.1 is up") {
		t.Errorf("down: %+v", dn)
	}

	sts = Status(context.Background(), &execx.Recorder{}, &hostops.SSH{Dialer: d}, d, f, f.Hosts[:1], StatusOptions{NoEval: true})
	if sts[0].Drift != "not evaluated" || !sts[0].Reachable {
		t.Errorf("--no-eval: %+v", sts[0])
	}
}

// A non-root user with passwordless sudo: preflight passes, and the lock and
// the last-deploy record are written through sudo -n (owned by root).
func TestRealNonRootUserWithSudo(t *testing.T) {
	const user = "nixctl-sudo"
	h := startRealHost(t, user)
	rule := "/etc/sudoers.d/nixctl-test-" + user
	if err := os.WriteFile(rule, []byte(user+" ALL=(ALL) NOPASSWD: ALL\n"), 0o440); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Remove(rule) })
	r := newRealRun(t, h.yaml("web", ", sudo: true"), h.KnownHostsFile)
	buildStub(r.rec)
	r.rec.Register([]string{"nixos-rebuild", "switch", "--flake", "/fleet#web", "--target-host", user + "@127.0.0.1", "--use-remote-sudo"}, "", 0)
	rep := r.exec(t)
	r.rec.Verify(t)
	if !result(t, rep, "web").OK() {
		t.Fatalf("web: %+v", result(t, rep, "web"))
	}
	st, err := os.Stat(filepath.Join(h.Root, hostops.LastDeployPath))
	if err != nil {
		t.Fatal(err)
	}
	if uid := st.Sys().(*syscall.Stat_t).Uid; uid != 0 {
		t.Errorf("last-deploy record owned by uid %d: not written through sudo", uid)
	}
	if h.exists(hostops.DeployLockPath) {
		t.Error("the lock must be released")
	}
}

// A remote Home Manager activation holds the host (nixctl home switch's
// flock): deploy refuses the host and leaves no lock of its own behind.
func TestRealDeployWaitsForHomeActivation(t *testing.T) {
	h := startRealHost(t, "")
	testutil.Require(t, "flock")
	homeLock := filepath.Join(h.Root, "run/lock/nixctl")
	if err := os.MkdirAll(homeLock, 0o777); err != nil {
		t.Fatal(err)
	}
	// flock hands the lock to sleep: stop the whole process group.
	holder := exec.Command("flock", homeLock, "sleep", "60")
	holder.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	release := func() { _ = syscall.Kill(-holder.Process.Pid, syscall.SIGKILL); _ = holder.Wait() }
	defer release()
	for i := 0; exec.Command("flock", "-n", homeLock, "true").Run() == nil; i++ {
		if i > 500 {
			t.Fatal("the test could not take the home lock")
		}
		time.Sleep(10 * time.Millisecond)
	}

	r := newRealRun(t, h.yaml("web", ""), h.KnownHostsFile)
	web := result(t, r.exec(t), "web")
	if web.Stage != StageLock || !strings.Contains(web.Error, "locked by a Home Manager activation") {
		t.Fatalf("web: %+v", web)
	}
	if h.exists(hostops.DeployLockPath) {
		t.Error("a refused deploy must not leave its lock behind")
	}
	if len(r.rec.Calls()) != 0 {
		t.Errorf("nothing may run on a held host: %v", r.rec.Argvs())
	}

	release()
	r = newRealRun(t, h.yaml("web", ""), h.KnownHostsFile)
	buildStub(r.rec)
	r.rec.Register([]string{"nixos-rebuild"}, "", 0)
	if rep := r.exec(t); rep.Kind() != fault.OK {
		t.Fatalf("after the activation: %+v", rep.Hosts)
	}
}
