package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nixctl/nixctl/internal/deploy"
	"github.com/nixctl/nixctl/internal/execx"
	"github.com/nixctl/nixctl/internal/exitcode"
	"github.com/nixctl/nixctl/internal/nix"
	"github.com/nixctl/nixctl/internal/testutil"
)

const deployFleet = `defaults: {parallel: 2, sshOptions: ["-o", "ConnectTimeout=5"]}
hosts:
  - {name: a, address: 10.0.0.1, tags: [cluster]}
  - {name: b, address: 10.0.0.2, port: 2222, tags: [cluster]}
  - {name: c, address: 10.0.0.3, user: deploy, sudo: true, tags: [cluster], health: [{tcp: "10.0.0.3:443"}]}
  - {name: d, address: 10.0.0.4, rebuild: bash, sudo: true}
`

func probeStub(rec *execx.Recorder, stderr string, code int) {
	rec.RegisterStub(&execx.Stub{Prefix: []string{"nixos-rebuild", "--nixctl-flavour-probe"}, Stderr: stderr, ExitCode: code})
}

// deploy --dry-run runs the deploy over printers: every step of each host
// in the order it would run, nothing changed here, nothing run on a host.
func TestDeployDryRunPrintsThePlan(t *testing.T) {
	t.Parallel()
	dir := testutil.WriteTree(t, map[string]string{"nixctl.yaml": deployFleet, "flake.nix": "{}"})
	home := t.TempDir()
	rec := &execx.Recorder{Paths: map[string]string{"nixos-rebuild": "/bin/nixos-rebuild"}}
	// nixos-rebuild-ng answers an unknown flag with argparse's usage error.
	probeStub(rec, "usage: nixos-rebuild [-h] …\nnixos-rebuild: error: unrecognized arguments: --nixctl-flavour-probe\n", 2)
	before, beforeHome := testutil.Tree(t, dir), testutil.Tree(t, home)
	r := runIn(t, dir, rec, map[string]string{"HOME": home}, "deploy", "@cluster", "--dry-run", "--no-check")
	rec.Verify(t)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	testutil.SameTree(t, "deploy --dry-run", before, testutil.Tree(t, dir))
	testutil.SameTree(t, "deploy --dry-run", beforeHome, testutil.Tree(t, home))
	// Only the probe and the read-only commands ran (the derivations of the
	// three hosts, which the recorder does not know).
	for _, c := range rec.Calls() {
		if !c.Cmd.ReadOnly {
			t.Errorf("ran %q", c.Cmd.Argv)
		}
	}
	if !strings.HasPrefix(r.stdout, "# nixctl deploy (switch) of 3 host(s), 2 at a time") {
		t.Errorf("header:\n%s", r.stdout)
	}
	ssh := "ssh -o ConnectTimeout=5 deploy@10.0.0.3 "
	stepsInOrder(t, r.stdout, "10.0.0.3",
		"# c: if health fails: NIX_SSHOPTS='-o ConnectTimeout=5' nixos-rebuild switch --rollback --flake "+dir+"#c --target-host deploy@10.0.0.3 --sudo",
		ssh+`'sh -c "<preflight.sh>" nixctl-preflight / 1'`,
		ssh+`'sudo -n sh -c "<deploy-lock-acquire.sh>" nixctl-deploy-lock-acquire / 0'`,
		ssh+`'sh -c "<status.sh>" nixctl-status /'`,
		ssh+`'sudo -n sh -c "<watchdog.sh>" nixctl-watchdog / arm `,
		"(cd "+dir+" && NIX_SSHOPTS='-o ConnectTimeout=5' nixos-rebuild switch --flake "+dir+"#c --target-host deploy@10.0.0.3 --sudo)",
		ssh+`'sudo -n sh -c "<watchdog.sh>" nixctl-watchdog / confirm `,
		ssh+`'sh -c "<status.sh>" nixctl-status /'`,
		ssh+"true",
		"# c: health tcp 10.0.0.3:443, from here",
		ssh+`'sh -c "<system-generation.sh>" nixctl-system-generation /'`,
		ssh+`'sudo -n sh -c "<deploy-lock-release.sh>" nixctl-deploy-lock-release / `)
	for _, want := range []string{
		"nix build --no-link --json --log-format internal-json --extra-experimental-features 'nix-command flakes' " + dir + "#nixosConfigurations.a.config.system.build.toplevel " + dir + "#nixosConfigurations.b.",
		"(cd " + dir + " && NIX_SSHOPTS='-o ConnectTimeout=5' nixos-rebuild switch --flake " + dir + "#a --target-host root@10.0.0.1)\n",
		"(cd " + dir + " && NIX_SSHOPTS='-o ConnectTimeout=5 -p 2222' nixos-rebuild switch --flake " + dir + "#b --target-host root@10.0.0.2)\n",
		"ssh -o ConnectTimeout=5 -p 2222 root@10.0.0.2 'sh -c \"<deploy-lock-acquire.sh>\" nixctl-deploy-lock-acquire / 0'",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("plan lacks %q:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "#d") || strings.Contains(r.stdout, "10.0.0.4") {
		t.Error("d is not in @cluster")
	}

	// rebuild: bash in the inventory wins: no probe, the bash flag.
	rec = &execx.Recorder{Paths: map[string]string{"nixos-rebuild": "/bin/nixos-rebuild"}}
	r = runIn(t, dir, rec, map[string]string{"HOME": home}, "deploy", "d", "--dry-run", "--no-check", "--action", "boot", "--build-host", "a")
	if r.code != 0 || !strings.Contains(r.stdout, "nixos-rebuild boot --flake "+dir+"#d --target-host root@10.0.0.4 --build-host root@10.0.0.1 --use-remote-sudo") {
		t.Errorf("exit %d:\n%s%s", r.code, r.stdout, r.stderr)
	}
	// The build host is preflighted as a target is.
	stepsInOrder(t, r.stdout, "10.0.0.",
		`ssh -o ConnectTimeout=5 root@10.0.0.4 'sh -c "<preflight.sh>" nixctl-preflight / 1'`,
		`ssh -o ConnectTimeout=5 root@10.0.0.1 'sh -c "<preflight.sh>" nixctl-preflight / 0'`,
		`ssh -o ConnectTimeout=5 root@10.0.0.4 'sh -c "<deploy-lock-acquire.sh>" nixctl-deploy-lock-acquire / 0'`,
		"(cd "+dir+" && NIX_SSHOPTS='-o ConnectTimeout=5' nixos-rebuild boot --flake "+dir+"#d")
	// Only reads ran (the flake's git revision for the lock's record).
	for _, c := range rec.Calls() {
		if !c.Cmd.ReadOnly {
			t.Errorf("ran %q", c.Cmd.Argv)
		}
	}
	testutil.SameTree(t, "deploy --dry-run", beforeHome, testutil.Tree(t, home))
}

// stepsInOrder checks that the lines of out that mention host hold want, in
// that order, each want the start of a line (hosts run side by side, so
// only one host's lines have an order).
func stepsInOrder(t *testing.T, out, host string, want ...string) {
	t.Helper()
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, host) || strings.HasPrefix(l, "# ") {
			lines = append(lines, l)
		}
	}
	i := 0
	for _, l := range lines {
		if i < len(want) && strings.HasPrefix(l, want[i]) {
			i++
		}
	}
	if i < len(want) {
		t.Errorf("step %q missing or out of order in:\n%s", want[i], strings.Join(lines, "\n"))
	}
}

func TestDeployBashFlavourAndRollbackPlan(t *testing.T) {
	t.Parallel()
	dir := testutil.WriteTree(t, map[string]string{"nixctl.yaml": deployFleet, "flake.nix": "{}"})
	rec := &execx.Recorder{Paths: map[string]string{"nixos-rebuild": "/bin/nixos-rebuild"}}
	probeStub(rec, "unknown option `--nixctl-flavour-probe'\n", 1)
	r := runIn(t, dir, rec, nil, "rollback", "c", "--dry-run")
	rec.Verify(t)
	if r.code != 0 || !strings.Contains(r.stdout, "nixos-rebuild switch --rollback --flake "+dir+"#c --target-host deploy@10.0.0.3 --use-remote-sudo") {
		t.Errorf("exit %d:\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = runIn(t, dir, &execx.Recorder{}, nil, "rollback", "c", "--to", "7", "--dry-run")
	if r.code != 0 || !strings.Contains(r.stdout, `ssh -o ConnectTimeout=5 deploy@10.0.0.3 'sudo -n sh -c "<system-switch-generation.sh>" nixctl-system-switch-generation / 7'`) {
		t.Errorf("rollback --to: exit %d:\n%s%s", r.code, r.stdout, r.stderr)
	}
}

func TestDeployUsageErrors(t *testing.T) {
	t.Parallel()
	dir := testutil.WriteTree(t, map[string]string{"nixctl.yaml": deployFleet, "flake.nix": "{}"})
	paths := map[string]string{"nixos-rebuild": "/bin/nixos-rebuild"}
	for _, c := range []struct {
		args []string
		code int
		err  string
		hint string
	}{
		{[]string{"deploy"}, exitcode.Usage, "deploy needs a selector or --all", "or pass --all"},
		{[]string{"deploy", "a", "--action", "reboot"}, exitcode.Usage, `unknown action "reboot"`, "switch, boot, test, dry-activate, build"},
		{[]string{"deploy", "a", "--keep-going", "--fail-fast"}, exitcode.Usage, "contradict", ""},
		{[]string{"deploy", "zz"}, exitcode.Usage, `unknown host "zz"`, ""},
		{[]string{"deploy", "a", "--build-host", "-oProxyCommand=x"}, exitcode.Usage, "--build-host", ""},
		{[]string{"deploy", "a"}, exitcode.Usage, "confirmation needed but there is no terminal", "pass --yes"},
		{[]string{"rollback"}, exitcode.Usage, "rollback needs at least one host", ""},
		{[]string{"rollback", "a", "--to", "0"}, exitcode.Usage, "--to 0", ""},
		{[]string{"deploy", "a", "--batch", "0"}, exitcode.Usage, "--batch: a batch holds at least 1 host, got 0", "--batch 25%"},
		{[]string{"deploy", "a", "--batch", "120%"}, exitcode.Usage, "120% is not a percentage", "a percentage"},
		{[]string{"deploy", "a", "b", "--canary", "c"}, exitcode.Usage, "--canary c selects none of the hosts being deployed", "name one of a, b"},
		{[]string{"deploy", "a", "b", "--canary", "a", "--canary", "b"}, exitcode.Usage, "--canary a b selects every host being deployed", "leave some hosts out"},
		{[]string{"deploy", "a", "--canary", "zz"}, exitcode.Usage, `unknown host "zz"`, ""},
		{[]string{"deploy", "a", "--cache=--to"}, exitcode.Usage, `--cache: "--to" is not a binary cache URL`, "file:///srv/nix-cache"},
		{[]string{"deploy", "a", "--diff", "--action", "build"}, exitcode.Usage, "--diff with --action build", "switch, boot or test"},
	} {
		r := runIn(t, dir, &execx.Recorder{Paths: paths}, nil, c.args...)
		if r.code != c.code || !strings.Contains(r.stderr, "nixctl: error: ") || !strings.Contains(r.stderr, c.err) || !strings.Contains(r.stderr, c.hint) {
			t.Errorf("%v: exit %d, stderr:\n%s", c.args, r.code, r.stderr)
		}
	}
	r := runIn(t, dir, &execx.Recorder{}, nil, "deploy", "a", "--yes")
	if r.code != exitcode.Failure || !strings.Contains(r.stderr, "nixos-rebuild is not installed") || !strings.Contains(r.stderr, "hint:") {
		t.Errorf("without nixos-rebuild: exit %d:\n%s", r.code, r.stderr)
	}
}

// TestDeployCommandWithRealSSHD runs the whole command in-process: real
// sshd for preflight, lock and health; recorded nix and nixos-rebuild.
func TestDeployCommandWithRealSSHD(t *testing.T) {
	testutil.Require(t, "nix")
	s := testutil.StartSSHD(t, testutil.SSHDOptions{OwnSystem: true})
	home := t.TempDir()
	kh, _ := os.ReadFile(s.KnownHostsFile)
	testutil.WriteFiles(t, home, map[string]string{".ssh/known_hosts": string(kh), ".ssh/config": "Host *\n  ServerAliveInterval 30\n"})
	inv := fmt.Sprintf("hosts:\n  - {name: web, address: 127.0.0.1, port: %d, identity: %s}\n", s.Port, s.ClientKeyFile)
	dir := testutil.WriteTree(t, map[string]string{"nixctl.yaml": inv, "flake.nix": "{}"})
	rec := &execx.Recorder{Paths: map[string]string{"nixos-rebuild": "/bin/nixos-rebuild"}}
	// The bash nixos-rebuild: no --store-path, so nixctl checks afterwards
	// that the host runs what it built.
	probeStub(rec, "unknown option `--nixctl-flavour-probe'\n", 1)
	const built = "/nix/store/00000000000000000000000000000000-nixos-system-web"
	rec.Register([]string{"nix", "build"}, `[{"drvPath":"/nix/store/a.drv","outputs":{"out":"`+built+`"}}]`, 0)
	rec.RegisterStub(&execx.Stub{Prefix: []string{"nixos-rebuild", "switch", "--flake", dir + "#web", "--target-host", "root@127.0.0.1"}, Func: func(execx.Cmd) (string, int) {
		if err := os.Symlink(built, filepath.Join(s.Root(), "run/current-system")); err != nil {
			return err.Error(), 1
		}
		return "activating the configuration...\n", 0
	}})
	state := filepath.Join(home, "state")
	r := runIn(t, dir, rec, map[string]string{"HOME": home, "XDG_STATE_HOME": state, "USER": "alice"}, "deploy", "web", "--yes", "--no-check", "--json")
	rec.Verify(t)
	if r.code != 0 {
		t.Fatalf("exit %d:\n%s", r.code, r.stderr)
	}
	var rep deploy.Report
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || len(rep.Hosts) != 1 || rep.Hosts[0].Result != "ok" {
		t.Fatalf("JSON report %q: %v", r.stdout, err)
	}
	// NIX_SSHOPTS names the configuration and known_hosts nixctl read: the
	// system ssh would otherwise read root's own.
	for _, c := range rec.Calls() {
		if c.Cmd.Argv[0] == "nixos-rebuild" && c.Cmd.Argv[1] != nix.ProbeFlag {
			want := fmt.Sprintf("NIX_SSHOPTS=-F %s -p %d -i %s -o UserKnownHostsFile=%s", filepath.Join(home, ".ssh/config"), s.Port, s.ClientKeyFile, filepath.Join(home, ".ssh/known_hosts"))
			if len(c.Cmd.Env) != 1 || c.Cmd.Env[0] != want {
				t.Errorf("env %q, want %q", c.Cmd.Env, want)
			}
		}
	}
	log, err := os.ReadFile(filepath.Join(state, "nixctl", "logs", rep.RunID, "web.log"))
	if err != nil || !strings.Contains(string(log), "activating the configuration...") || !strings.Contains(string(log), "== health") ||
		!strings.Contains(string(log), "/run/current-system is "+built+", the system this run built") {
		t.Errorf("log file: %v\n%s", err, log)
	}
	if !strings.Contains(r.stderr, "web: activating the configuration...") {
		t.Errorf("child output goes to stderr, prefixed with the host:\n%s", r.stderr)
	}

	// status reads the record the deploy left.
	rec = &execx.Recorder{}
	r = runIn(t, dir, rec, map[string]string{"HOME": home}, "status", "--no-eval", "--json")
	var sts []deploy.HostStatus
	if err := json.Unmarshal([]byte(r.stdout), &sts); err != nil || r.code != 0 || !sts[0].Reachable || sts[0].LastDeploy == nil || sts[0].LastDeploy.Who == "" || sts[0].LastDeploy.Result != "ok" {
		t.Fatalf("status: exit %d %s %s", r.code, r.stdout, r.stderr)
	}
	if !strings.HasPrefix(sts[0].LastDeploy.Who, "alice@") {
		t.Errorf("who = %q", sts[0].LastDeploy.Who)
	}
}

// A dry run against a real host leaves it alone: no lock, no record, no
// watchdog, no session in sshd's log; only this machine's reads run.
func TestDeployDryRunLeavesARealHostAlone(t *testing.T) {
	s := testutil.StartSSHD(t, testutil.SSHDOptions{OwnSystem: true})
	home := t.TempDir()
	kh, _ := os.ReadFile(s.KnownHostsFile)
	testutil.WriteFiles(t, home, map[string]string{".ssh/known_hosts": string(kh)})
	inv := fmt.Sprintf("hosts:\n  - {name: web, address: 127.0.0.1, port: %d, identity: %s, health: [{command: \"true\"}]}\n", s.Port, s.ClientKeyFile)
	dir := testutil.WriteTree(t, map[string]string{"nixctl.yaml": inv, "flake.nix": "{}"})
	root := s.Root()
	before := map[string]map[string]string{}
	for _, d := range []string{"var/lib/nixctl", "run", "nix/var/nix/profiles"} {
		before[d] = testutil.Tree(t, filepath.Join(root, d))
	}
	sshdLog := s.Log()
	for _, args := range [][]string{
		{"deploy", "web", "--dry-run", "--no-check"},
		{"rollback", "web", "--dry-run"},
		{"rollback", "web", "--to", "3", "--dry-run"},
	} {
		rec := &execx.Recorder{Paths: map[string]string{"nixos-rebuild": "/bin/nixos-rebuild"}}
		probeStub(rec, "unknown option `--nixctl-flavour-probe'\n", 1)
		r := runIn(t, dir, rec, map[string]string{"HOME": home, "XDG_STATE_HOME": filepath.Join(home, "state")}, args...)
		if r.code != 0 {
			t.Fatalf("%v: exit %d\n%s", args, r.code, r.stderr)
		}
		port := fmt.Sprintf("-p %d ", s.Port)
		to := slices.Contains(args, "--to")
		activation := "(cd " + dir + " && "
		if to {
			activation = "ssh "
		}
		stepsInOrder(t, r.stdout, port,
			"ssh ", // preflight
			"ssh ", // lock
			activation,
			"ssh ") // health, generation, release
		ops := []string{"nixctl-preflight / 0'", "nixctl-deploy-lock-acquire / 0'", "nixctl-deploy-lock-release / "}
		if to {
			ops = []string{"nixctl-preflight / 0'", "nixctl-deploy-lock-acquire / 0'", "nixctl-system-switch-generation / 3'", "nixctl-deploy-lock-release / "}
		}
		rest := r.stdout
		for _, op := range ops {
			i := strings.Index(rest, op)
			if i < 0 {
				t.Fatalf("%v: %q missing or out of order:\n%s", args, op, r.stdout)
			}
			rest = rest[i:]
		}
		for _, c := range rec.Calls() {
			if !c.Cmd.ReadOnly {
				t.Errorf("%v ran %q", args, c.Cmd.Argv)
			}
		}
	}
	for d, tree := range before {
		testutil.SameTree(t, "a dry run on the host's "+d, tree, testutil.Tree(t, filepath.Join(root, d)))
	}
	if s.Log() != sshdLog {
		t.Errorf("sshd saw a connection during a dry run:\n%s", strings.TrimPrefix(s.Log(), sshdLog))
	}
	if _, err := os.Stat(filepath.Join(home, "state")); err == nil {
		t.Error("a dry run wrote its log folder")
	}
}
