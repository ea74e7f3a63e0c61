package execx

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestQuote(t *testing.T) {
	for in, want := range map[string]string{
		"plain":                    "plain",
		"":                         "''",
		"a b":                      "'a b'",
		"it's":                     `'it'\''s'`,
		"$(id)":                    "'$(id)'",
		"/r#nixosConfigurations.a": "/r#nixosConfigurations.a",
		"nix-command flakes":       "'nix-command flakes'",
	} {
		if got := QuoteWord(in); got != want {
			t.Errorf("QuoteWord(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestRealRunCapturesAndClassifies(t *testing.T) {
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
	rec := &Recorder{}
	rec.Register([]string{"nix", "eval"}, "/nix/store/x.drv", 0)
	var out bytes.Buffer
	d := NewDryRun(rec, &out)
	if _, err := d.Run(context.Background(), Cmd{Argv: []string{"nixos-rebuild", "switch", "--flake", "/r#a b"}, Env: []string{"NIX_SSHOPTS=-p 22"}}); err != nil {
		t.Fatal(err)
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
	res, err := NewReal().Run(context.Background(), Cmd{Argv: []string{"true"}})
	if err != nil || res.MaxRSS <= 0 {
		t.Errorf("MaxRSS = %d, err %v", res.MaxRSS, err)
	}
}
