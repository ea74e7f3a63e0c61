package doctor

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nixctl/nixctl/internal/inventory"
	"github.com/nixctl/nixctl/internal/nix"
	"github.com/nixctl/nixctl/internal/remote"
)

// runHostScript runs host.sh with the local sh, as the host's would, with
// PATH holding only bin (stand-ins) and the system's tools.
func runHostScript(t *testing.T, bin string, args ...string) (facts, int) {
	t.Helper()
	cmd := exec.Command("sh", append([]string{"-c", hostScript, "nixctl-doctor"}, args...)...)
	cmd.Env = []string{"PATH=" + bin + ":/usr/bin:/bin"}
	out, err := cmd.Output()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return parseFacts(string(out)), code
}

func TestHostScriptRefusesBadArguments(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{nil, {"sudo"}, {"maybe", nix.ProbeFlag}, {"sudo", "; reboot"}, {"sudo", nix.ProbeFlag, "x"}} {
		if _, code := runHostScript(t, t.TempDir(), args...); code != 64 {
			t.Errorf("%q: exit %d, want 64", args, code)
		}
	}
}

// nixos-rebuild-ng refuses an unknown flag with argparse's usage (exit 2);
// sudo here asks for a password.
func TestHostScriptFacts(t *testing.T) {
	t.Parallel()
	bin := t.TempDir()
	for name, script := range map[string]string{
		"nixos-rebuild": "#!/bin/sh\necho 'usage: nixos-rebuild [-h] [--verbose] {switch,boot,test,build}' >&2\necho \"nixos-rebuild: error: unrecognized arguments: $1\" >&2\nexit 2\n",
		"sudo":          "#!/bin/sh\necho 'sudo: a password is required' >&2\nexit 1\n",
	} {
		if err := os.WriteFile(filepath.Join(bin, name), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	facts, code := runHostScript(t, bin, "sudo", nix.ProbeFlag)
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	h := Host{Host: inventory.Host{Name: "h", User: "ops", Sudo: true}, Route: remote.Route{User: "ops"}, Elevate: true}
	f := func(check, status, detail, hint string) Finding {
		return Finding{Host: "h", Name: check, Status: status, Detail: detail, Hint: hint}
	}
	if got := rebuildHostFinding(h, facts, nix.FlavourBash, f); got.Status != OK || got.Detail != filepath.Join(bin, "nixos-rebuild")+" (ng)" {
		t.Errorf("nixos-rebuild: %+v", got)
	}
	if got := sudoFinding(h, facts, f); got.Status != Fail || got.Detail != "sudo -n true failed for ops: sudo: a password is required" {
		t.Errorf("sudo: %+v", got)
	}
	if got := freeFinding(facts, f); got.Status == "" || !strings.HasSuffix(got.Detail, " available") {
		t.Errorf("/nix free: %+v (facts %v)", got, facts)
	}
	if _, err := exec.LookPath("nix"); err == nil && !strings.HasPrefix(facts.get("nix_version"), "nix (Nix) ") {
		t.Errorf("nix version: %v", facts)
	}
	// Without sudo wanted, sudo is not even tried.
	facts, _ = runHostScript(t, bin, "nosudo", nix.ProbeFlag)
	if _, ok := facts["sudo"]; ok {
		t.Errorf("sudo was run: %v", facts)
	}
}

func TestFreeFindingThresholds(t *testing.T) {
	t.Parallel()
	f := func(check, status, detail, hint string) Finding {
		return Finding{Name: check, Status: status, Detail: detail, Hint: hint}
	}
	for kib, want := range map[string]string{"524288": Fail, "2097152": Warn, "20971520": OK, "": Warn} {
		got := freeFinding(facts{"nix_free_kib": {kib}}, f)
		if got.Status != want || (want != OK && got.Hint == "") {
			t.Errorf("%s KiB: %+v, want %s", kib, got, want)
		}
	}
	if got := freeFinding(facts{"nix_free_kib": {"2097152"}}, f); got.Detail != "2.0 GiB available" {
		t.Errorf("detail %q", got.Detail)
	}
}
