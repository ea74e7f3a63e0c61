package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nixctl/nixctl/internal/exitcode"
	"github.com/nixctl/nixctl/internal/testutil"
)

// routeRebuild stands in for nixos-rebuild: it records its argv and
// NIX_SSHOPTS, then reaches the target and the build host with the system
// ssh exactly as nixos-rebuild does (ssh $NIX_SSHOPTS HOST), and leaves a
// mark on the target only if it finds there the lock nixctl took.
const routeRebuild = `#!/bin/sh
printf '%s\n' "$*" > "$REC/argv"
printf '%s\n' "$NIX_SSHOPTS" > "$REC/sshopts"
target= build=
while [ $# -gt 0 ]; do
  case "$1" in --target-host) target=$2; shift ;; --build-host) build=$2; shift ;; esac
  shift
done
if [ -n "$build" ]; then ssh $NIX_SSHOPTS -o BatchMode=yes "$build" true || exit 31; fi
exec ssh $NIX_SSHOPTS -o BatchMode=yes "$target" \
  'test -e /var/lib/nixctl/deploy.lock/info && touch /var/lib/nixctl/reached-by-rebuild'
`

// A host that only a jump host can reach, named in the inventory by its
// ssh alias alone: nixctl's preflight and lock, and the nixos-rebuild it
// runs, take the same route through ~/.ssh/config; the build host is a host
// of the inventory, preflighted too; an exported NIX_SSHOPTS is kept, the
// arguments after -- and --use-substitutes reach nixos-rebuild.
func TestDeployThroughJumpHostByAlias(t *testing.T) {
	testutil.Require(t, "ssh")
	inner, jump := testutil.StartBehindJump(t, testutil.SSHDOptions{})
	home, bin, rec := t.TempDir(), t.TempDir(), t.TempDir()
	kh := filepath.Join(home, ".ssh", "known_hosts")
	testutil.WriteFiles(t, home, map[string]string{
		".ssh/known_hosts": testutil.JumpKnownHosts(inner, jump),
		".ssh/config":      testutil.JumpSSHConfig(inner, jump, "web", kh),
	})
	testutil.WriteFiles(t, bin, map[string]string{"nixos-rebuild": routeRebuild})
	if err := os.Chmod(filepath.Join(bin, "nixos-rebuild"), 0o755); err != nil {
		t.Fatal(err)
	}
	inv := "hosts:\n  - {name: web, address: web, buildHost: builder}\n  - {name: builder, address: bastion}\n"
	dir := testutil.WriteTree(t, map[string]string{"nixctl.yaml": inv, "flake.nix": "{}"})
	env := map[string]string{"HOME": home, "XDG_STATE_HOME": filepath.Join(home, "state"), "USER": "alice", "NIX_SSHOPTS": "-o ServerAliveInterval=7",
		"PATH": bin + ":" + os.Getenv("PATH"), "REC": rec}

	// boot: no health stage, whose retries only lengthen a test of the route.
	r := runIn(t, dir, nil, env, "deploy", "web", "--action", "boot", "--yes", "--no-check", "--substitute-on-target", "--", "--show-trace")
	if r.code != 0 {
		t.Fatalf("exit %d:\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	// nixos-rebuild's ssh, with what nixctl gave it, reached the inner host
	// and found there the lock that nixctl took through its own route.
	if _, err := os.Stat(inner.Root() + "/var/lib/nixctl/reached-by-rebuild"); err != nil {
		t.Errorf("nixos-rebuild's ssh did not find nixctl's lock on the inner host: %v", err)
	}
	argv, _ := os.ReadFile(filepath.Join(rec, "argv"))
	want := "boot --flake " + dir + "#web --target-host web --build-host bastion --use-substitutes --show-trace"
	if strings.TrimSpace(string(argv)) != want {
		t.Errorf("argv\n got %s\nwant %s", argv, want)
	}
	opts, _ := os.ReadFile(filepath.Join(rec, "sshopts"))
	wantOpts := "-o ServerAliveInterval=7 -F " + filepath.Join(home, ".ssh/config") + " -o UserKnownHostsFile=" + kh
	if strings.TrimSpace(string(opts)) != wantOpts {
		t.Errorf("NIX_SSHOPTS\n got %s\nwant %s", opts, wantOpts)
	}
	// Both hosts were preflighted through the route.
	if !strings.Contains(jump.Log(), "Accepted publickey for root") || !strings.Contains(inner.Log(), "Accepted publickey for root") {
		t.Errorf("a host was never logged into:\njump:\n%s\ninner:\n%s", jump.Log(), inner.Log())
	}
	// The same route as a command a user can paste.
	cmd := exec.Command("ssh", "-F", filepath.Join(home, ".ssh/config"), "-o", "BatchMode=yes", "web", "echo", "ok")
	if out, err := cmd.Output(); err != nil || strings.TrimSpace(string(out)) != "ok" {
		t.Errorf("ssh web: %v\n%s", err, out)
	}
}

// What goes after -- is checked; the build host must exist; each a single
// error line with a hint, before anything runs.
func TestDeployPassThroughAndBuildHostErrors(t *testing.T) {
	t.Parallel()
	inv := "defaults: {substituteOnTarget: true}\nhosts:\n  - {name: web, address: 192.0.2.1}\n  - {name: builder, address: 192.0.2.9, port: 2222}\n"
	dir := testutil.WriteTree(t, map[string]string{"nixctl.yaml": inv, "flake.nix": "{}"})
	home := t.TempDir()
	env := map[string]string{"HOME": home}
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"deploy", "web", "--", "--yes"}, exitcode.Usage, "--yes after -- is nixctl's flag --yes"},
		{[]string{"deploy", "web", "--", "--target-host", "x"}, exitcode.Usage, "--target-host after -- would reach nixos-rebuild, but nixctl sets it"},
		{[]string{"deploy", "web", "--", "boot"}, exitcode.Usage, `"boot" after -- would be a second nixos-rebuild action`},
		{[]string{"deploy", "web", "--build-host", "buildr"}, exitcode.Usage, `--build-host "buildr" is neither a host of the inventory nor user@address`},
		// nixos-rebuild gives both hosts one NIX_SSHOPTS: -p 2222 for the
		// build host would send the target's ssh to port 2222 too.
		{[]string{"deploy", "web", "--build-host", "builder"}, exitcode.Usage, "build host builder"},
	} {
		r := runIn(t, dir, nil, env, append(tc.args, "--dry-run")...)
		errLines := 0
		for _, l := range strings.Split(r.stderr, "\n") {
			if strings.HasPrefix(l, "nixctl: error:") {
				errLines++
			}
		}
		if r.code != tc.code || !strings.Contains(r.stderr, tc.msg) || errLines != 1 || !strings.Contains(r.stderr, "nixctl: hint:") {
			t.Errorf("%v: exit %d, want %d with %q and one hint:\n%s", tc.args, r.code, tc.code, tc.msg, r.stderr)
		}
	}
	if r := runIn(t, dir, nil, env, "deploy", "web", "--build-host", "buildr", "--dry-run"); !strings.Contains(r.stderr, "did you mean --build-host builder") {
		t.Errorf("no suggestion:\n%s", r.stderr)
	}

	// defaults.substituteOnTarget and the arguments after -- reach every
	// nixos-rebuild call of the plan, the rollback's too.
	r := runIn(t, dir, nil, env, "deploy", "web", "--dry-run", "--no-check", "--", "--show-trace", "--option", "cores", "4")
	if r.code != 0 {
		t.Fatalf("exit %d:\n%s", r.code, r.stderr)
	}
	n := 0
	for _, l := range strings.Split(r.stdout, "\n") {
		if strings.Contains(l, "nixos-rebuild switch") {
			n++
			if !strings.Contains(l, "--target-host root@192.0.2.1 --use-substitutes --show-trace --option cores 4") {
				t.Errorf("plan line %q", l)
			}
		}
	}
	// The activation, then the rollback twice: if the host runs another
	// system than the one built, and if health fails.
	if n != 3 {
		t.Errorf("want the activation and the rollback, got %d nixos-rebuild lines:\n%s", n, r.stdout)
	}
}
