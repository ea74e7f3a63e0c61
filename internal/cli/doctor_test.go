package cli

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nixctl/nixctl/internal/doctor"
	"github.com/nixctl/nixctl/internal/exitcode"
	"github.com/nixctl/nixctl/internal/testutil"
)

// A repository with nixctl.yaml and no flake.nix is not a fleet nix can
// evaluate: doctor fails and says how to fix it.
func TestDoctorInventoryWithoutFlakeFails(t *testing.T) {
	t.Parallel()
	dir := testutil.WriteTree(t, map[string]string{"nixctl.yaml": "hosts: []\n"})
	r := runIn(t, dir, nil, map[string]string{"HOME": t.TempDir()}, "--json", "doctor")
	if r.code != exitcode.Failure {
		t.Fatalf("exit %d, want 1: %s", r.code, r.stderr)
	}
	f := doctorFinding(t, r.stdout, "", "flake")
	if f.Status != doctor.Fail || f.Detail != "no flake.nix in "+dir || !strings.Contains(f.Hint, "beside the fleet's flake.nix") {
		t.Errorf("flake finding: %+v", f)
	}
}

// Without an inventory, --hosts has nothing to look at: the findings about
// this machine still come, the inventory's says why.
func TestDoctorHostsWithoutInventory(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	r := runIn(t, dir, nil, map[string]string{"HOME": t.TempDir()}, "--json", "doctor", "--hosts")
	if r.code != exitcode.Failure {
		t.Fatalf("exit %d, want 1: %s", r.code, r.stderr)
	}
	if f := doctorFinding(t, r.stdout, "", "inventory"); f.Status != doctor.Fail || f.Hint == "" {
		t.Errorf("inventory finding: %+v", f)
	}
}

// doctor --hosts against a real sshd on 127.0.0.1, with users for each
// case; a stand-in nixos-rebuild (the bash one's answer to an unknown
// flag) and sudo (which lets one user in and asks another for a password)
// are on the hosts' PATH.
func TestDoctorHostsOverSSH(t *testing.T) {
	testutil.Require(t, "nix")
	fakebin := testutil.PublicTempDir(t)
	for name, script := range map[string]string{
		"nixos-rebuild": "#!/bin/sh\necho \"$*\" >> " + fakebin + "/nixos-rebuild.log\necho \"error: unknown option \\`$1'\" >&2\nexit 1\n",
		"sudo":          "#!/bin/sh\n[ \"$1\" = -n ] && shift\nif [ \"$(id -un)\" = nixctl-nopw ]; then echo 'sudo: a password is required' >&2; exit 1; fi\nexec \"$@\"\n",
	} {
		if err := os.WriteFile(filepath.Join(fakebin, name), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(fakebin, "nixos-rebuild.log"), nil, 0o666); err != nil {
		t.Fatal(err)
	}
	sshd := testutil.StartSSHD(t, testutil.SSHDOptions{
		ExtraUsers: []string{"nixctl-doc", "nixctl-nopw"},
		Env:        map[string]string{"PATH": fakebin + ":/usr/local/bin:/usr/bin:/bin"},
	})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedPort := l.Addr().(*net.TCPAddr).Port
	l.Close()

	home := t.TempDir()
	known, err := os.ReadFile(sshd.KnownHostsFile)
	if err != nil {
		t.Fatal(err)
	}
	testutil.WriteFiles(t, home, map[string]string{".ssh/known_hosts": string(known)})
	host := func(name, address, user string, port int, extra string) string {
		return fmt.Sprintf("  - {name: %s, address: %s, port: %d, user: %s, identity: %s%s}\n", name, address, port, user, sshd.ClientKeyFile, extra)
	}
	inv := "hosts:\n" +
		host("mini", "127.0.0.1", "root", sshd.Port, "") +
		host("ops", "127.0.0.1", "nixctl-doc", sshd.Port, ", sudo: true, rebuild: ng, tags: [users]") +
		host("nopw", "127.0.0.1", "nixctl-nopw", sshd.Port, ", sudo: true, tags: [users]") +
		host("nosudo", "127.0.0.1", "nixctl-doc", sshd.Port, ", tags: [users]") +
		host("alias", "localhost", "root", sshd.Port, "") +
		host("down", "127.0.0.1", "root", closedPort, "")
	dir := testutil.WriteTree(t, map[string]string{"nixctl.yaml": inv, "flake.nix": "{}"})
	// The same stand-in nixos-rebuild here: the one deploy would run.
	env := map[string]string{"HOME": home, "PATH": fakebin + ":" + os.Getenv("PATH")}

	r := runIn(t, dir, nil, env, "--json", "doctor", "--hosts")
	if r.code != exitcode.Failure {
		t.Fatalf("exit %d, want 1 (some hosts fail): %s", r.code, r.stderr)
	}
	want := []struct{ host, check, status, detail, hint string }{
		{"mini", "ssh", doctor.OK, fmt.Sprintf("reachable as root@127.0.0.1:%d", sshd.Port), ""},
		{"mini", "host key", doctor.OK, "matches known_hosts", ""},
		{"mini", "nix", doctor.OK, "nix (Nix) 2.", ""},
		{"mini", "sudo", doctor.OK, "not needed: nixctl logs in as root", ""},
		{"mini", "nixos-rebuild", doctor.OK, fakebin + "/nixos-rebuild (bash)", ""},
		{"ops", "sudo", doctor.OK, "sudo -n works for nixctl-doc", ""},
		{"nopw", "sudo", doctor.Fail, "sudo -n true failed for nixctl-nopw: sudo: a password is required", "let nixctl-nopw run sudo without a password"},
		{"nosudo", "sudo", doctor.Fail, "user nixctl-doc is not root and sudo is off", "set sudo: true for this host"},
		{"alias", "ssh", doctor.OK, "reachable at root@localhost", ""},
		{"alias", "host key", doctor.Fail, fmt.Sprintf("host key of [localhost]:%d is unknown", sshd.Port), fmt.Sprintf("ssh-keyscan -p %d localhost >> ", sshd.Port)},
		{"down", "ssh", doctor.Fail, fmt.Sprintf("ssh root@127.0.0.1:%d: ", closedPort), fmt.Sprintf("sshd listens on port %d", closedPort)},
	}
	for _, w := range want {
		f := doctorFinding(t, r.stdout, w.host, w.check)
		if f.Status != w.status || !strings.HasPrefix(f.Detail, w.detail) || !strings.Contains(f.Hint, w.hint) {
			t.Errorf("%s %s: %+v, want %s %q… hint ~%q", w.host, w.check, f, w.status, w.detail, w.hint)
		}
	}
	// rebuild: ng in the inventory, but the nixos-rebuild here is the bash
	// one: a warning with what to change.
	if f := doctorFinding(t, r.stdout, "ops", "nixos-rebuild"); f.Status != doctor.Warn || f.Detail != "rebuild: ng in nixctl.yaml, but the nixos-rebuild that deploys from here is bash" || !strings.Contains(f.Hint, "set it to bash") {
		t.Errorf("ops nixos-rebuild: %+v", f)
	}
	if f := doctorFinding(t, r.stdout, "", "nixos-rebuild"); f.Status != doctor.OK || f.Detail != fakebin+"/nixos-rebuild (bash)" {
		t.Errorf("local nixos-rebuild: %+v", f)
	}
	if f := doctorFinding(t, r.stdout, "mini", "/nix free"); f.Status == "" || !strings.HasSuffix(f.Detail, " available") {
		t.Errorf("mini /nix free: %+v", f)
	}
	// Hosts that cannot be reached get no further checks.
	for _, name := range []string{"alias", "down"} {
		if f, ok := lookupFinding(t, r.stdout, name, "nix"); ok {
			t.Errorf("%s was not reached, yet: %+v", name, f)
		}
	}
	// The probe reached nixos-rebuild as its only argument, here and on the
	// hosts: nothing was deployed.
	log, _ := os.ReadFile(filepath.Join(fakebin, "nixos-rebuild.log"))
	for _, l := range strings.Split(strings.TrimSpace(string(log)), "\n") {
		if l != "--nixctl-flavour-probe" {
			t.Errorf("nixos-rebuild ran with %q", log)
			break
		}
	}

	// A selector checks only those hosts; the text form puts each finding
	// and its hint on one line.
	r = runIn(t, dir, nil, env, "doctor", "@users")
	if r.code != exitcode.Failure {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if strings.Contains(r.stdout, "mini: ") || strings.Contains(r.stdout, "down: ") {
		t.Errorf("hosts outside @users were checked:\n%s", r.stdout)
	}
	var line string
	for _, l := range strings.Split(r.stdout, "\n") {
		if strings.Contains(l, "nopw: sudo") {
			line = l
		}
	}
	if !strings.Contains(line, "sudo -n true failed for nixctl-nopw") || !strings.Contains(line, "hint: let nixctl-nopw run sudo without a password") {
		t.Errorf("nopw's sudo line: %q\n%s", line, r.stdout)
	}
}

func lookupFinding(t *testing.T, out, host, name string) (doctor.Finding, bool) {
	t.Helper()
	var doc struct {
		OK       bool             `json:"ok"`
		Findings []doctor.Finding `json:"findings"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("doctor --json: %v\n%s", err, out)
	}
	for _, f := range doc.Findings {
		if f.Host == host && f.Name == name {
			return f, true
		}
	}
	return doctor.Finding{}, false
}

func doctorFinding(t *testing.T, out, host, name string) doctor.Finding {
	t.Helper()
	f, ok := lookupFinding(t, out, host, name)
	if !ok {
		t.Fatalf("no finding %q for host %q in:\n%s", name, host, out)
	}
	return f
}
