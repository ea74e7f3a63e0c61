package cli

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nixctl/nixctl/internal/deploy"
	"github.com/nixctl/nixctl/internal/exitcode"
	"github.com/nixctl/nixctl/internal/nix"
	"github.com/nixctl/nixctl/internal/testutil"
	"github.com/nixctl/nixctl/internal/testutil/fakecmd"
)

// twoGenerationsFlake has NixOS-like toplevels made of fake parts: web's
// first generation (gens.web1) and the one the flake builds now
// (nixosConfigurations.web) differ in kernel, initrd and modules, drop nano,
// add htop and grow openssl; systemd is the same. nixosConfigurations.same
// is what the host "same" already runs.
const twoGenerationsFlake = `{
  outputs = _: let
    pkg = name: size: derivation {
      inherit name;
      nonce = "NONCE";
      system = "SYSTEM";
      builder = "/bin/sh";
      args = [ "-c" "/bin/mkdir $out && /usr/bin/head -c ${toString size} /dev/zero > $out/data" ];
    };
    toplevel = host: p: derivation {
      name = "nixos-system-${host}-25.05";
      nonce = "NONCE";
      system = "SYSTEM";
      builder = "/bin/sh";
      args = [ "-c" ''
        /bin/mkdir $out
        /bin/ln -s ${p.kernel}/bzImage $out/kernel
        /bin/ln -s ${p.initrd}/initrd $out/initrd
        /bin/ln -s ${p.modules}/lib $out/kernel-modules
        /bin/ln -s ${p.systemd} $out/systemd
        echo ${builtins.concatStringsSep " " (map toString p.packages)} > $out/packages
      '' ];
    };
    systemd = pkg "systemd-257.1" 100;
    gen1 = { kernel = pkg "linux-6.6.1" 100; initrd = pkg "initrd-linux-6.6.1" 100; modules = pkg "linux-modules-6.6.1" 100;
      inherit systemd; packages = [ (pkg "nano-7.2" 100) (pkg "openssl-3.0.13" 10000) ]; };
    gen2 = { kernel = pkg "linux-6.6.2" 100; initrd = pkg "initrd-linux-6.6.2" 100; modules = pkg "linux-modules-6.6.2" 100;
      inherit systemd; packages = [ (pkg "htop-3.3.0" 100) (pkg "openssl-3.0.14" 60000) ]; };
  in {
    gens.web1 = toplevel "web" gen1;
    nixosConfigurations.web.config.system.build.toplevel = toplevel "web" gen2;
    nixosConfigurations.same.config.system.build.toplevel = toplevel "same" gen1;
  };
}
`

// planFleet is a fleet of two hosts, each a real sshd in a mount namespace
// of its own whose /run/current-system the test sets, and a fake
// nixos-rebuild whose dry-activate names the units a switch would restart.
type planFleet struct {
	dir, fake string
	env       map[string]string
	web, same *testutil.SSHD
	gen1      string
}

func newPlanFleet(t *testing.T) *planFleet {
	t.Helper()
	testutil.Require(t, "nix")
	pf := &planFleet{}
	var known []byte
	for _, s := range []**testutil.SSHD{&pf.web, &pf.same} {
		*s = testutil.StartSSHD(t, testutil.SSHDOptions{OwnSystem: true})
		b, _ := os.ReadFile((*s).KnownHostsFile)
		known = append(known, b...)
	}
	pf.dir = testutil.WriteTree(t, map[string]string{
		"flake.nix": generationsFlake("plan"),
		"nixctl.yaml": fmt.Sprintf("hosts:\n  - {name: web, address: 127.0.0.1, port: %d, identity: %s}\n  - {name: same, address: 127.0.0.1, port: %d, identity: %s}\n",
			pf.web.Port, pf.web.ClientKeyFile, pf.same.Port, pf.same.ClientKeyFile),
	})
	pf.gen1 = nixBuildOut(t, pf.dir+"#gens.web1")
	runs := nixBuildOut(t, pf.dir+"#nixosConfigurations.same.config.system.build.toplevel")
	for s, cur := range map[*testutil.SSHD]string{pf.web: pf.gen1, pf.same: runs} {
		if err := os.Symlink(cur, s.Root()+"/run/current-system"); err != nil {
			t.Fatal(err)
		}
	}
	home := t.TempDir()
	var vars map[string]string
	pf.fake, vars = fakeRebuildOnPath(t)
	testutil.WriteFiles(t, home, map[string]string{".ssh/known_hosts": string(known)})
	testutil.WriteFiles(t, pf.fake, map[string]string{"nixos-rebuild.yaml": `flavour: bash
responses:
  - args: [dry-activate]
    stderr: "copying 3 paths...\nwould activate the configuration...\nwould restart the following units: nginx.service, sshd.service\nwould start the following units: htop-exporter.service\n"
  - args: [switch]
    stdout: "activating the configuration...\n"
    activate: true
`})
	pf.env = map[string]string{"HOME": home, "XDG_STATE_HOME": filepath.Join(home, "state"), "USER": "alice"}
	maps.Copy(pf.env, vars)
	return pf
}

// generationsFlake is twoGenerationsFlake for this machine, its store
// paths made distinct by nonce.
func generationsFlake(nonce string) string {
	return strings.NewReplacer("SYSTEM", nix.System(), "NONCE", nonce).Replace(twoGenerationsFlake)
}

func nixBuildOut(t *testing.T, installable string) string {
	t.Helper()
	argv := nix.Build([]string{installable})
	b, err := exec.Command(argv[0], argv[1:]...).Output()
	if err != nil {
		t.Fatalf("nix build %s: %v", installable, err)
	}
	res, err := nix.ParseBuildResults(b)
	if err != nil || len(res) != 1 {
		t.Fatalf("nix build %s: %s (%v)", installable, b, err)
	}
	return res[0].Out()
}

// rebuilds lists the fake nixos-rebuild's calls as "action host".
func (pf *planFleet) rebuilds(t *testing.T) []string {
	t.Helper()
	calls, err := fakecmd.Calls(pf.fake, "nixos-rebuild")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, c := range calls {
		if c.Argv[1] == nix.ProbeFlag {
			continue
		}
		out = append(out, c.Argv[1]+" "+c.Argv[3][strings.Index(c.Argv[3], "#")+1:])
	}
	return out
}

// TestPlanShowsEachHostsChangeWithRealNix: nixctl plan builds the new
// systems with real nix, reads each host's /run/current-system over SSH and
// compares the closures with nix store diff-closures.
func TestPlanShowsEachHostsChangeWithRealNix(t *testing.T) {
	pf := newPlanFleet(t)
	r := runIn(t, pf.dir, nil, pf.env, "plan", "--all", "--no-check", "--json")
	if r.code != 0 {
		t.Fatalf("exit %d:\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	var rep deploy.Report
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || len(rep.Hosts) != 2 {
		t.Fatalf("report %q: %v", r.stdout, err)
	}
	web, same := rep.Hosts[0], rep.Hosts[1]
	if web.Diff == nil || same.Diff == nil {
		t.Fatalf("no plan: %+v", rep.Hosts)
	}
	d := web.Diff
	if d.Change != deploy.DiffChanged || d.Current != pf.gen1 || !strings.HasSuffix(d.New, "-nixos-system-web-25.05") || d.New == pf.gen1 {
		t.Errorf("web: %+v", d)
	}
	kinds := map[string]string{}
	for _, c := range d.Packages {
		kinds[c.Package] = c.Kind + " " + strings.Join(c.Old, ",") + " → " + strings.Join(c.New, ",")
	}
	for pkg, want := range map[string]string{
		"htop": "added  → 3.3.0", "nano": "removed 7.2 → ", "openssl": "changed 3.0.13 → 3.0.14",
		"linux": "changed 6.6.1 → 6.6.2", "initrd-linux": "changed 6.6.1 → 6.6.2", "linux-modules": "changed 6.6.1 → 6.6.2",
	} {
		if kinds[pkg] != want {
			t.Errorf("web: %s is %q, want %q (all: %v)", pkg, kinds[pkg], want, kinds)
		}
	}
	if _, ok := kinds["systemd"]; ok {
		t.Errorf("systemd did not change: %v", kinds)
	}
	if d.Added != 1 || d.Removed != 1 || d.Changed != 4 {
		t.Errorf("web counts +%d -%d ~%d", d.Added, d.Removed, d.Changed)
	}
	if d.ClosureSizeDelta < 45000 || d.NewClosureSize-d.OldClosureSize != d.ClosureSizeDelta || d.OldClosureSize == 0 {
		t.Errorf("web closure %d → %d (%+d): openssl grew by 50 kB", d.OldClosureSize, d.NewClosureSize, d.ClosureSizeDelta)
	}
	if !d.RebootNeeded || !slices.Equal(d.RebootReasons, []string{"kernel", "initrd", "kernel-modules"}) {
		t.Errorf("web reboot %v %v: kernel, initrd and modules changed, systemd did not", d.RebootNeeded, d.RebootReasons)
	}
	if d.Units == nil || !slices.Equal(d.Units.Restart, []string{"nginx.service", "sshd.service"}) || !slices.Equal(d.Units.Start, []string{"htop-exporter.service"}) {
		t.Errorf("web units %+v", d.Units)
	}
	if same.Result != deploy.ResultUnchanged || same.Diff.Change != deploy.DiffUnchanged || same.Diff.Current != same.Diff.New || same.Diff.Units != nil {
		t.Errorf("same: %+v %+v", same, same.Diff)
	}
	// A plan activates nothing and takes no lock; only web is dry-activated.
	if got := pf.rebuilds(t); !slices.Equal(got, []string{"dry-activate web"}) {
		t.Errorf("nixos-rebuild calls %q", got)
	}

	// The text plan: web's packages, then one table.
	r = runIn(t, pf.dir, nil, pf.env, "plan", "--all", "--no-check")
	for _, want := range []string{
		"web: 1 added, 1 removed, 4 changed, closure +", "reboot needed (kernel, initrd, kernel-modules changed)",
		"restart nginx.service, sshd.service; start htop-exporter.service",
		"  + htop 3.3.0\n", "  - nano 7.2\n", "  ~ openssl 3.0.13 → 3.0.14 (+",
		"\nweb\tchanged\t+1 -1 ~4\t+", "\tyes (kernel, initrd, kernel-modules)\trestart nginx.service, sshd.service; start htop-exporter.service\n",
		"\nsame\tunchanged\t-\t-\tno\t-\n",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("plan output lacks %q:\n%s", want, r.stdout)
		}
	}
	if r.code != 0 {
		t.Errorf("exit %d: %s", r.code, r.stderr)
	}
}

// TestDeployDiffAsksOnceAndSkipsUnchanged: deploy --diff shows the plan,
// needs --yes without a terminal (nothing activated, locks released), then
// activates only the host that changed; --force activates the other too.
func TestDeployDiffAsksOnceAndSkipsUnchanged(t *testing.T) {
	pf := newPlanFleet(t)
	r := runIn(t, pf.dir, nil, pf.env, "deploy", "--all", "--diff", "--no-check")
	if r.code != exitcode.Usage || !strings.Contains(r.stderr, "switch web?: confirmation needed but there is no terminal") || !strings.Contains(r.stderr, "--yes") {
		t.Fatalf("without a terminal: exit %d:\n%s", r.code, r.stderr)
	}
	if !strings.Contains(r.stdout, "web: 1 added, 1 removed, 4 changed") || !strings.Contains(r.stdout, "same\tunchanged") {
		t.Errorf("the plan comes before the question:\n%s", r.stdout)
	}
	if got := pf.rebuilds(t); !slices.Equal(got, []string{"dry-activate web"}) {
		t.Fatalf("nothing may be activated before the answer: %q", got)
	}

	r = runIn(t, pf.dir, nil, pf.env, "deploy", "--all", "--diff", "--no-check", "--yes", "--json")
	if r.code != 0 {
		t.Fatalf("exit %d:\n%s", r.code, r.stderr)
	}
	var rep deploy.Report
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || len(rep.Hosts) != 2 {
		t.Fatalf("report %q: %v", r.stdout, err)
	}
	if web := rep.Hosts[0]; web.Result != deploy.ResultOK || web.Diff == nil || web.Diff.Added != 1 {
		t.Errorf("web: %+v", web)
	}
	if same := rep.Hosts[1]; same.Result != deploy.ResultUnchanged || same.Stage != deploy.StageDiff {
		t.Errorf("same: %+v", same)
	}
	if got := pf.rebuilds(t); !slices.Equal(got[1:], []string{"dry-activate web", "switch web"}) {
		t.Errorf("only web is activated: %q", got)
	}

	r = runIn(t, pf.dir, nil, pf.env, "deploy", "same", "--diff", "--force", "--no-check", "--yes")
	if got := pf.rebuilds(t); r.code != 0 || got[len(got)-1] != "switch same" || !strings.Contains(r.stdout, "same\tswitch\tok\t") {
		t.Errorf("--force: exit %d %q\n%s\n%s", r.code, got, r.stdout, r.stderr)
	}
}

// TestPlanComparesOnTheHostWhenThisStoreLacksItsSystem: the host runs a
// system this machine's store does not have (its /nix is its own). nixctl
// copies the new system there and runs nix store diff-closures on the host,
// and never imports the host's system here.
func TestPlanComparesOnTheHostWhenThisStoreLacksItsSystem(t *testing.T) {
	testutil.Require(t, "nix")
	s := testutil.StartSSHD(t, testutil.SSHDOptions{OwnSystem: true, OwnStore: true})
	dir := testutil.WriteTree(t, map[string]string{
		"flake.nix":   generationsFlake(filepath.Base(t.TempDir())),
		"nixctl.yaml": fmt.Sprintf("hosts:\n  - {name: web, address: 127.0.0.1, port: %d, identity: %s}\n", s.Port, s.ClientKeyFile),
	})
	home := t.TempDir()
	kh, _ := os.ReadFile(s.KnownHostsFile)
	testutil.WriteFiles(t, home, map[string]string{".ssh/known_hosts": string(kh)})
	gen1 := nixBuildOut(t, dir+"#gens.web1")
	sshOpts := fmt.Sprintf("NIX_SSHOPTS=-p %d -i %s -o UserKnownHostsFile=%s", s.Port, s.ClientKeyFile, s.KnownHostsFile)
	for _, argv := range [][]string{
		append(nix.Nix("copy"), "--to", "ssh://root@127.0.0.1", gen1),
		append(nix.Nix("store", "delete"), gen1),
	} {
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Env = append(os.Environ(), sshOpts)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%q: %v\n%s", argv, err, out)
		}
	}
	if err := os.Symlink(gen1, s.Root()+"/run/current-system"); err != nil {
		t.Fatal(err)
	}
	fake, vars := fakeRebuildOnPath(t)
	testutil.WriteFiles(t, fake, map[string]string{"nixos-rebuild.yaml": "responses:\n  - args: [dry-activate]\n    stderr: \"would restart the following units: sshd.service\\n\"\n"})
	env := map[string]string{"HOME": home, "XDG_STATE_HOME": filepath.Join(home, "state"), "USER": "alice"}
	maps.Copy(env, vars)
	r := runIn(t, dir, nil, env, "plan", "web", "--no-check", "--json")
	if r.code != 0 {
		t.Fatalf("exit %d:\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	var rep deploy.Report
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || len(rep.Hosts) != 1 || rep.Hosts[0].Diff == nil {
		t.Fatalf("report %q: %v", r.stdout, err)
	}
	d := rep.Hosts[0].Diff
	if d.Current != gen1 || d.Added != 1 || d.Removed != 1 || d.Changed != 4 || d.ClosureSizeDelta < 45000 || d.OldClosureSize == 0 {
		t.Errorf("diff on the host: %+v", d)
	}
	if !d.RebootNeeded || len(d.RebootReasons) != 3 {
		t.Errorf("reboot: %v", d.RebootReasons)
	}
	if _, err := os.Lstat(gen1); err == nil {
		t.Error("the host's system must not be imported into this store")
	}
	if _, err := os.Lstat(s.Root() + d.New); err != nil {
		t.Errorf("the new system was not copied to the host: %v", err)
	}
}
