package cli

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/nixctl/nixctl/internal/execx"
	"github.com/nixctl/nixctl/internal/exitcode"
	"github.com/nixctl/nixctl/internal/testutil"
	"github.com/nixctl/nixctl/internal/ui"
)

const kindsFleet = `hosts:
  - {name: nixos-mini, address: 10.0.0.1, rebuild: bash}
profiles:
  - {name: laptop, user: gabriel}
  - {name: server, user: gabriel, host: nixos-mini}
`

// A typo anywhere exits 2 with the closest name, and runs nothing.
func TestTyposExitTwoWithDidYouMean(t *testing.T) {
	t.Parallel()
	dir := testutil.WriteTree(t, map[string]string{"nixctl.yaml": kindsFleet, "flake.nix": "{}"})
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"secrets", "verfy"}, "did you mean 'nixctl secrets verify'?"},
		{[]string{"inventory", "lst"}, "did you mean 'nixctl inventory list'?"},
		{[]string{"host", "ad", "x"}, "did you mean 'nixctl host add'?"},
		{[]string{"profile", "ad", "x"}, "did you mean 'nixctl profile add'?"},
		{[]string{"deplyo"}, "did you mean 'nixctl deploy'?"},
		{[]string{"home", "swtich", "laptop"}, "did you mean 'nixctl home switch'?"},
		{[]string{"deploy", "--paralel", "2", "nixos-mini"}, "did you mean --parallel?"},
		{[]string{"inventory", "check", "--no-evl"}, "did you mean --no-eval?"},
		{[]string{"--jsn", "inventory", "list"}, "did you mean --json?"},
		{[]string{"nosuchthing"}, "'nixctl --help' lists the commands"},
		// A command's flag before the command's name is its parent's.
		{[]string{"--all", "status"}, "--all is a flag of a command: put it after the command's name (nixctl COMMAND --all)"},
		{[]string{"secrets", "--staged", "verify"}, "--staged is a flag of a command: put it after the command's name (nixctl secrets COMMAND --staged)"},
		{[]string{"help", "deplyo"}, "did you mean 'nixctl deploy'?"},
		{[]string{"help", "inventory", "snyc"}, "did you mean 'nixctl inventory sync'?"},
	} {
		rec := &execx.Recorder{}
		r := runIn(t, dir, rec, nil, tc.args...)
		if r.code != exitcode.Usage {
			t.Errorf("%v: exit %d, want %d\n%s%s", tc.args, r.code, exitcode.Usage, r.stdout, r.stderr)
		}
		if !strings.HasPrefix(r.stderr, "nixctl: error: ") || !strings.Contains(r.stderr, "nixctl: hint: "+tc.want) {
			t.Errorf("%v: stderr %q, want the hint %q", tc.args, r.stderr, tc.want)
		}
		if r.stdout != "" || len(rec.Calls()) != 0 {
			t.Errorf("%v: printed %q and ran %v", tc.args, r.stdout, rec.Argvs())
		}
	}
	// A group without a subcommand still shows its help, successfully.
	for _, args := range [][]string{{"secrets"}, {"help", "secrets"}, {"secrets", "--help"}} {
		if r := runIn(t, dir, &execx.Recorder{}, nil, args...); r.code != 0 || !strings.Contains(r.stdout, "verify") {
			t.Errorf("%v: exit %d\n%s%s", args, r.code, r.stdout, r.stderr)
		}
	}
}

func TestParallelBelowOneIsRefused(t *testing.T) {
	t.Parallel()
	dir := testutil.WriteTree(t, map[string]string{"nixctl.yaml": kindsFleet, "flake.nix": "{}"})
	for _, args := range [][]string{
		{"deploy", "nixos-mini", "--parallel", "0", "--dry-run"},
		{"deploy", "nixos-mini", "--parallel=-1", "--dry-run"},
		{"rollback", "nixos-mini", "--parallel", "0", "--dry-run"},
		{"status", "--parallel", "0"},
		{"home", "switch", "server", "--parallel", "0", "--dry-run"},
	} {
		rec := &execx.Recorder{}
		r := runIn(t, dir, rec, nil, args...)
		if r.code != exitcode.Usage || !strings.Contains(r.stderr, "--parallel") || !strings.Contains(r.stderr, "nixctl: hint:") {
			t.Errorf("%v: exit %d\n%s", args, r.code, r.stderr)
		}
		if len(rec.Calls()) != 0 {
			t.Errorf("%v ran %v", args, rec.Argvs())
		}
	}
	if r := runIn(t, dir, &execx.Recorder{}, nil, "deploy", "nixos-mini", "--parallel", "1", "--dry-run", "--no-check"); r.code != 0 {
		t.Errorf("--parallel 1: exit %d\n%s", r.code, r.stderr)
	}
}

func TestProfileGivenToDeployIsNamedAsSuch(t *testing.T) {
	t.Parallel()
	dir := testutil.WriteTree(t, map[string]string{"nixctl.yaml": kindsFleet, "flake.nix": "{}"})
	for _, tc := range []struct {
		args       []string
		error, fix string
	}{
		{[]string{"deploy", "laptop", "--dry-run"}, `"laptop" is a Home Manager profile, not a NixOS host`, "'nixctl home switch laptop'"},
		{[]string{"home", "switch", "nixos-mini", "--dry-run"}, `"nixos-mini" is a NixOS host, not a Home Manager profile`, "the profiles on nixos-mini are server"},
		{[]string{"rollback", "server", "--dry-run"}, `"server" is a Home Manager profile`, "'nixctl home switch server'"},
	} {
		rec := &execx.Recorder{}
		r := runIn(t, dir, rec, nil, tc.args...)
		if r.code != exitcode.Usage || !strings.Contains(r.stderr, "nixctl: error: "+tc.error) || !strings.Contains(r.stderr, tc.fix) {
			t.Errorf("%v: exit %d\n%s", tc.args, r.code, r.stderr)
		}
		if len(rec.Calls()) != 0 {
			t.Errorf("%v ran %v", tc.args, rec.Argvs())
		}
	}
}

// openPTY gives a terminal whose far end the test types into.
func openPTY(t *testing.T) (typist, tty *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		if testutil.InCI() {
			t.Fatalf("CI runs on Linux with /dev/ptmx: %v", err)
		}
		t.Skipf("no pseudo-terminal here (CI=true makes this a failure): %v", err)
	}
	t.Cleanup(func() { m.Close() })
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return m, s
}

// Answering no on a terminal is a choice: its own exit code, the word
// "cancelled", no "error", and nothing run.
func TestDeclinedConfirmationIsCancelled(t *testing.T) {
	t.Parallel()
	dir := testutil.WriteTree(t, map[string]string{"nixctl.yaml": kindsFleet, "flake.nix": "{}"})
	typist, tty := openPTY(t)
	if _, err := typist.Write([]byte("n\n")); err != nil {
		t.Fatal(err)
	}
	rec := &execx.Recorder{Paths: map[string]string{"nixos-rebuild": "/bin/nixos-rebuild"}}
	var out, errb bytes.Buffer
	deps := testDeps(dir, nil, rec, ui.Stdio{In: tty, Out: &out, Err: &errb})
	code := runDeps(deps, "deploy", "nixos-mini", "--no-check")
	if code != exitcode.Cancelled {
		t.Fatalf("exit %d, want %d\n%s", code, exitcode.Cancelled, errb.String())
	}
	stderr := errb.String()
	if !strings.Contains(stderr, "switch nixos-mini? [y/N]") || !strings.Contains(stderr, "nixctl: cancelled: ") || strings.Contains(stderr, "error") {
		t.Errorf("stderr %q", stderr)
	}
	if len(rec.Calls()) != 0 || out.Len() != 0 {
		t.Errorf("ran %v, printed %q", rec.Argvs(), out.String())
	}
}
