package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/nixctl/nixctl/internal/deploy"
	"github.com/nixctl/nixctl/internal/exitcode"
	"github.com/nixctl/nixctl/internal/nix"
	"github.com/nixctl/nixctl/internal/testutil"
)

// releaseFlake's host web is a system whose content comes from the file
// release: editing it during a run changes what the flake evaluates to.
const releaseFlake = `{
  outputs = _: {
    nixosConfigurations.web.config.system.build.toplevel = derivation {
      name = "nixos-system-web";
      system = "SYSTEM";
      builder = "/bin/sh";
      args = [ "-c" "/bin/mkdir $out; echo ${builtins.readFile ./release} >$out/release" ];
    };
  };
}
`

// storePathRig is one real sshd (a host of its own: its /run and system
// profile) running an old system, a flake whose web system real nix
// builds, and this test binary as nixos-rebuild behind a wrapper that can
// edit the flake when the activation starts (someone saving a file while
// nixctl deploys).
type storePathRig struct {
	*deployRig
	web *rigHost
	old string
}

func newStorePathRig(t *testing.T, flavour string, editDuringActivation bool) *storePathRig {
	t.Helper()
	testutil.Require(t, "nix", "ssh", "nix-env")
	r := &deployRig{t: t, bin: t.TempDir(), fake: t.TempDir(), home: t.TempDir(), hosts: map[string]*rigHost{}, names: []string{"web"}}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	inner := t.TempDir()
	for name, dir := range map[string]string{"nixctl": r.bin, "nixos-rebuild": inner} {
		if err := os.Symlink(exe, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	s := testutil.StartSSHD(t, testutil.SSHDOptions{OwnSystem: true})
	web := &rigHost{sshd: s, root: s.Root()}
	r.hosts["web"] = web
	old := testutil.StoreSystem(t, "system-old", "")
	if err := s.ActivateSystem(old); err != nil {
		t.Fatal(err)
	}
	kh, _ := os.ReadFile(s.KnownHostsFile)
	testutil.WriteFiles(t, r.home, map[string]string{".ssh/known_hosts": string(kh)})
	r.dir = testutil.WriteTree(t, map[string]string{
		"flake.nix":   strings.ReplaceAll(releaseFlake, "SYSTEM", nix.System()),
		"release":     "1.0-" + filepath.Base(t.TempDir()),
		"nixctl.yaml": fmt.Sprintf("hosts:\n  - {name: web, address: 127.0.0.1, port: %d, identity: %s}\n", s.Port, s.ClientKeyFile),
	})
	edit := ""
	if editDuringActivation {
		edit = `case "$*" in *--rollback*) ;; "switch "*) echo 1.1 >>` + filepath.Join(r.dir, "release") + ` ;; esac` + "\n"
	}
	testutil.WriteFiles(t, r.bin, map[string]string{"nixos-rebuild": "#!/bin/sh\n" + edit + "exec " + filepath.Join(inner, "nixos-rebuild") + ` "$@"` + "\n"})
	if err := os.Chmod(filepath.Join(r.bin, "nixos-rebuild"), 0o755); err != nil {
		t.Fatal(err)
	}
	r.rebuild(fmt.Sprintf("flavour: %s\nresponses:\n  - args: [switch]\n    activate: true\n", flavour))
	return &storePathRig{deployRig: r, web: web, old: old}
}

func (r *storePathRig) current() string {
	cur, _ := os.Readlink(filepath.Join(r.web.root, "run/current-system"))
	return cur
}

// The bash nixos-rebuild (no --store-path) evaluates the flake again, and
// the tree changed since nixctl built it: the host ends up running a system
// nixctl never checked. nixctl says so with both paths, rolls the host back
// as after a failed health check, and exits 6.
func TestDeployRefusesASystemItDidNotBuild(t *testing.T) {
	r := newStorePathRig(t, "bash", true)
	built := nixBuildOut(t, r.dir+"#nixosConfigurations.web.config.system.build.toplevel")
	code, _, stderr := r.run("deploy", "web", "--yes", "--no-check")
	if code != exitcode.RolledBack {
		t.Fatalf("exit %d, want %d:\n%s", code, exitcode.RolledBack, stderr)
	}
	m := regexp.MustCompile(`(?m)^nixctl: rolled back: web: nixos-rebuild activated another system than the one nixctl built and checked: /run/current-system is (\S+), built (\S+)$`).FindStringSubmatch(stderr)
	if m == nil || m[2] != built || m[1] == built || !strings.HasSuffix(m[1], "-nixos-system-web") {
		t.Fatalf("want one error line with both paths (built %s):\n%s", built, stderr)
	}
	if !regexp.MustCompile(`(?m)^nixctl: hint: nixos-rebuild evaluated the flake again .* --store-path`).MatchString(stderr) {
		t.Errorf("no hint:\n%s", stderr)
	}
	// nixos-rebuild switch --rollback took the host back to what it ran.
	if cur := r.current(); cur != r.old {
		t.Errorf("the host runs %s after the rollback, want %s", cur, r.old)
	}
	var argvs []string
	for _, c := range r.calls() {
		argvs = append(argvs, strings.Join(c.Argv[:min(3, len(c.Argv))], " "))
	}
	if !slices.Equal(argvs, []string{"nixos-rebuild " + nix.ProbeFlag, "nixos-rebuild switch --flake", "nixos-rebuild switch --rollback"}) {
		t.Errorf("nixos-rebuild calls %q", argvs)
	}
	if rec, _ := os.ReadFile(filepath.Join(r.web.root, "var/lib/nixctl/last-deploy.json")); !strings.Contains(string(rec), `"result":"rolled back"`) || r.web.exists(rigLock) {
		t.Errorf("last deploy %s, lock left: %v", rec, r.web.exists(rigLock))
	}
}

// nixos-rebuild-ng with --store-path activates exactly the system nixctl
// built, even when the tree changes during the run: no --flake, so nothing
// is evaluated again.
func TestDeployActivatesTheBuiltPathWithStorePath(t *testing.T) {
	r := newStorePathRig(t, "ng", true)
	built := nixBuildOut(t, r.dir+"#nixosConfigurations.web.config.system.build.toplevel")
	code, stdout, stderr := r.run("deploy", "web", "--yes", "--json")
	if code != 0 {
		t.Fatalf("exit %d:\n%s\n%s", code, stdout, stderr)
	}
	var rep deploy.Report
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil || len(rep.Hosts) != 1 || rep.Hosts[0].StorePath != built {
		t.Fatalf("report %s (%v), built %s", stdout, err, built)
	}
	calls := r.calls()
	if len(calls) != 2 || len(calls[0].Argv) != 2 || calls[0].Argv[1] != nix.ProbeFlag {
		t.Fatalf("want the probe then the activation: %v", calls)
	}
	want := []string{"nixos-rebuild", "switch", "--store-path", built, "--target-host", "root@127.0.0.1"}
	if got := calls[1].Argv; !slices.Equal(got, want) {
		t.Errorf("activation %q, want %q", got, want)
	}
	if cur := r.current(); cur != built {
		t.Errorf("the host runs %s, want the built %s", cur, built)
	}
	if rel, _ := os.ReadFile(filepath.Join(r.dir, "release")); !strings.HasSuffix(string(rel), "1.1\n") {
		t.Errorf("the tree was not edited during the activation: %q", rel)
	}
}
