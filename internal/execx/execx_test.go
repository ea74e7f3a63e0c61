package execx

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestQuote(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"", "''"},
		{"plain", "plain"},
		{"/nix/var/nix/profiles/system", "/nix/var/nix/profiles/system"},
		{"root@host:22", "root@host:22"},
		{"a b", "'a b'"},
		{"it's", `'it'\''s'`},
		{"$(id)", "'$(id)'"},
		{"a;b", "'a;b'"},
		{"~", "'~'"},
		{"*", "'*'"},
		{"line\nbreak", "'line\nbreak'"},
		{"nix-command flakes", "'nix-command flakes'"},
		// '#' is ordinary inside a word, a comment at its start.
		{"/r#nixosConfigurations.a", "/r#nixosConfigurations.a"},
		{"#comment", "'#comment'"},
		// '=' is ordinary in an argument.
		{"--opt=v", "--opt=v"},
		{"ConnectTimeout=5", "ConnectTimeout=5"},
	} {
		if got := QuoteWord(tc.in); got != tc.want {
			t.Errorf("QuoteWord(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
	// First on a command line, a word that reads as an assignment is quoted.
	for in, want := range map[string]string{
		"A=b cmd":   "'A=b' cmd",
		"_x1= cmd":  "'_x1=' cmd",
		"1x=b cmd":  "1x=b cmd",
		"--o=v cmd": "--o=v cmd",
		"cmd A=b":   "cmd A=b",
	} {
		if got := Quote(strings.Fields(in)); got != want {
			t.Errorf("Quote(%s) = %s, want %s", in, got, want)
		}
	}
}

// What Quote writes, a real sh reads back word for word, whatever the word
// and wherever it stands.
func TestQuoteSurvivesARealShell(t *testing.T) {
	t.Parallel()
	words := []string{"", "nixctl-plain", "a b", "it's", "$(id)", "`id`", "a;b", "~", "*", "line\nbreak", "#comment", "/r#x", "A=b", "--o=v", "\\", `"q"`, "!x", "{a,b}", "[a]"}
	for _, w := range words {
		// As an argument: printf gets it unchanged.
		out, err := exec.Command("sh", "-c", Quote([]string{"printf", "%s|", w})).Output()
		if err != nil || string(out) != w+"|" {
			t.Errorf("printf %s printed %q (%v), want %q", QuoteWord(w), out, err, w+"|")
		}
		// As the first word: a command (none has these names: 127), never
		// an assignment (0) or a comment (nothing after it runs).
		// (After a first line: sh would take a leading "-" for its options.)
		out, _ = exec.Command("sh", "-c", "true\n"+Quote([]string{w})+" 2>/dev/null; echo $?").Output()
		if got := strings.TrimSpace(string(out)); got != "127" {
			t.Errorf("%s as a command: status %q, want 127 (not found)", QuoteWord(w), got)
		}
	}
}

func TestRealRunCapturesAndClassifies(t *testing.T) {
	t.Parallel()
	r := NewReal()
	var live bytes.Buffer
	res, err := r.Run(context.Background(), Cmd{Argv: []string{"sh", "-c", "echo out; echo err1 >&2; echo err2 >&2; exit 3"}, Stderr: &live})
	var ee *ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("want *ExitError, got %v", err)
	}
	if ee.ExitCode != 3 || res.ExitCode != 3 {
		t.Errorf("exit code %d/%d, want 3", ee.ExitCode, res.ExitCode)
	}
	if string(res.Stdout) != "out\n" || live.String() != "err1\nerr2\n" {
		t.Errorf("stdout %q live stderr %q", res.Stdout, live.String())
	}
	if !strings.Contains(ee.Error(), "exited with code 3: err2") {
		t.Errorf("error text %q", ee.Error())
	}
	if _, err := r.Run(context.Background(), Cmd{Argv: []string{"sh", "-c", "test \"$X\" = 1"}, Env: []string{"X=1"}}); err != nil {
		t.Errorf("env not passed: %v", err)
	}
}

// Cancelling the context must kill the child and everything it started.
func TestRealCancelKillsProcessGroup(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "grandchild.pid")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := NewReal().Run(ctx, Cmd{Argv: []string{"sh", "-c", "sleep 300 & echo $! > " + pidFile + "; wait"}})
		done <- err
	}()
	var pid int
	for i := 0; i < 200 && pid == 0; i++ {
		time.Sleep(10 * time.Millisecond)
		if b, err := os.ReadFile(pidFile); err == nil && len(bytes.TrimSpace(b)) > 0 {
			pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		}
	}
	if pid == 0 {
		t.Fatal("the child never started its grandchild")
	}
	cancel()
	err := <-done
	if !errors.Is(err, context.Canceled) {
		t.Errorf("want context.Canceled in the error, got %v", err)
	}
	for i := 0; i < 300; i++ {
		if syscall.Kill(pid, 0) != nil {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
	t.Fatalf("grandchild %d survived the cancellation", pid)
}

func TestDryRunPrintsChangesAndRunsReadOnly(t *testing.T) {
	t.Parallel()
	rec := &Recorder{}
	rec.Register([]string{"nix", "eval"}, "/nix/store/x.drv", 0)
	var out bytes.Buffer
	d := NewDryRun(rec, &out)
	// A printed command answers what the plan says it stands for.
	if res, err := d.Run(context.Background(), Cmd{Argv: []string{"nixos-rebuild", "switch", "--flake", "/r#a b"}, Env: []string{"NIX_SSHOPTS=-p 22"}, Planned: []byte("planned")}); err != nil || string(res.Stdout) != "planned" {
		t.Fatalf("printed command answered %q, %v", res.Stdout, err)
	}
	res, err := d.Run(context.Background(), Cmd{Argv: []string{"nix", "eval", "x"}, ReadOnly: true})
	if err != nil || string(res.Stdout) != "/nix/store/x.drv" {
		t.Fatalf("read-only command not run: %v %q", err, res.Stdout)
	}
	if got := out.String(); got != "NIX_SSHOPTS='-p 22' nixos-rebuild switch --flake '/r#a b'\n" {
		t.Errorf("printed %q", got)
	}
	if argvs := rec.Argvs(); len(argvs) != 1 || argvs[0] != "nix eval x" {
		t.Errorf("the mutating command reached the inner runner: %v", argvs)
	}
	rec.Verify(t)
}

type fakeT struct{ errs []string }

func (f *fakeT) Helper()                           {}
func (f *fakeT) Errorf(format string, args ...any) { f.errs = append(f.errs, format) }

func TestRecorderVerifyFailsOnUnusedStub(t *testing.T) {
	t.Parallel()
	rec := &Recorder{}
	rec.Register([]string{"nix", "build"}, "", 0)
	ft := &fakeT{}
	rec.Verify(ft)
	if len(ft.errs) != 1 {
		t.Errorf("an unused stub must fail the test, got %v", ft.errs)
	}
	if _, err := rec.Run(context.Background(), Cmd{Argv: []string{"nix", "eval"}}); err == nil {
		t.Error("an unexpected command must fail")
	}
}

func TestRealInteractiveKeepsStreamsAndReportsFailure(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	res, err := NewReal().Run(context.Background(), Cmd{Argv: []string{"sh", "-c", "echo hi; exit 4"}, Stdout: &out, Interactive: true})
	var ee *ExitError
	if !errors.As(err, &ee) || ee.ExitCode != 4 || res.ExitCode != 4 {
		t.Fatalf("want exit 4, got %v", err)
	}
	if out.String() != "hi\n" || len(res.Stdout) != 0 {
		t.Errorf("interactive output must go straight to the stream: %q / captured %q", out.String(), res.Stdout)
	}
}

func TestRealReportsMaxRSS(t *testing.T) {
	t.Parallel()
	res, err := NewReal().Run(context.Background(), Cmd{Argv: []string{"true"}})
	if err != nil || res.MaxRSS <= 0 {
		t.Errorf("MaxRSS = %d, err %v", res.MaxRSS, err)
	}
}

// A skippable read-only command is not run in a dry run: it is said once
// per description, and its caller gets ErrSkipped to fall back on.
func TestDryRunSkipsWhatItsCallerCanDoWithout(t *testing.T) {
	inner := &Recorder{}
	var out bytes.Buffer
	d := NewDryRun(inner, &out)
	for range 3 {
		_, err := d.Run(context.Background(), Cmd{Argv: []string{"nix", "eval", "x"}, ReadOnly: true, Skippable: "pinning derivations"})
		if !errors.Is(err, ErrSkipped) {
			t.Fatalf("err = %v, want ErrSkipped", err)
		}
	}
	if len(inner.Calls()) != 0 {
		t.Errorf("a skippable command ran: %v", inner.Argvs())
	}
	if got := out.String(); got != "# not run in a dry run: pinning derivations\n" {
		t.Errorf("printed %q", got)
	}
}
