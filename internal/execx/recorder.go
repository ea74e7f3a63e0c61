package execx

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"
)

// Recorder is the runner for tests: it records every command and answers from
// a table of stubs. A stub that was registered but never used is reported by
// Unused, so a test fails when an expected call never happened.
type Recorder struct {
	mu    sync.Mutex
	stubs []*Stub
	calls []Call
	// Paths answers LookPath; a missing name is "not found".
	Paths map[string]string
}

// Call is one recorded command.
type Call struct {
	Cmd   Cmd
	Start time.Time
	End   time.Time
}

// Stub answers commands whose argv starts with Prefix.
type Stub struct {
	Prefix   []string
	Stdout   string
	Stderr   string
	ExitCode int
	// Func, when set, computes the answer instead.
	Func func(c Cmd) (stdout string, exitCode int)
	used int
}

// Register adds a stub answering argv that starts with prefix.
func (r *Recorder) Register(prefix []string, stdout string, exitCode int) *Stub {
	s := &Stub{Prefix: prefix, Stdout: stdout, ExitCode: exitCode}
	r.mu.Lock()
	r.stubs = append(r.stubs, s)
	r.mu.Unlock()
	return s
}

// RegisterStub adds a fully described stub.
func (r *Recorder) RegisterStub(s *Stub) *Stub {
	r.mu.Lock()
	r.stubs = append(r.stubs, s)
	r.mu.Unlock()
	return s
}

// LookPath answers from Paths.
func (r *Recorder) LookPath(name string) (string, error) {
	if p, ok := r.Paths[name]; ok {
		return p, nil
	}
	return "", fmt.Errorf("exec: %q: executable file not found in $PATH", name)
}

// Run records c and answers from the first matching stub (last registered
// wins among equals, so a test can override a default). Unmatched commands fail.
func (r *Recorder) Run(ctx context.Context, c Cmd) (*Result, error) {
	start := time.Now()
	r.mu.Lock()
	var stub *Stub
	for i := len(r.stubs) - 1; i >= 0; i-- {
		if hasPrefix(c.Argv, r.stubs[i].Prefix) {
			stub = r.stubs[i]
			break
		}
	}
	if stub != nil {
		stub.used++
	}
	r.mu.Unlock()
	res := &Result{}
	if stub == nil {
		res.ExitCode = 127
		res.Stderr = []byte("recorder: no stub for " + Quote(c.Argv))
	} else if stub.Func != nil {
		out, code := stub.Func(c)
		res.Stdout, res.ExitCode = []byte(out), code
	} else {
		res.Stdout, res.Stderr, res.ExitCode = []byte(stub.Stdout), []byte(stub.Stderr), stub.ExitCode
	}
	if c.Stdout != nil {
		_, _ = c.Stdout.Write(res.Stdout)
	}
	if c.Stderr != nil {
		_, _ = c.Stderr.Write(res.Stderr)
	}
	r.mu.Lock()
	r.calls = append(r.calls, Call{Cmd: c, Start: start, End: time.Now()})
	r.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return res, &ExitError{Argv: c.Argv, ExitCode: -1, Err: err}
	}
	if res.ExitCode != 0 {
		return res, &ExitError{Argv: c.Argv, ExitCode: res.ExitCode, StderrTail: Tail(string(res.Stderr), 20)}
	}
	return res, nil
}

// Calls returns the recorded commands in order.
func (r *Recorder) Calls() []Call {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Call(nil), r.calls...)
}

// Argvs returns each recorded argv joined by spaces, for easy assertions.
func (r *Recorder) Argvs() []string {
	var out []string
	for _, c := range r.Calls() {
		out = append(out, strings.Join(c.Cmd.Argv, " "))
	}
	return out
}

// Unused lists stubs that no command matched.
func (r *Recorder) Unused() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, s := range r.stubs {
		if s.used == 0 {
			out = append(out, strings.Join(s.Prefix, " "))
		}
	}
	return out
}

func hasPrefix(argv, prefix []string) bool {
	if len(prefix) > len(argv) {
		return false
	}
	for i := range prefix {
		if argv[i] != prefix[i] {
			return false
		}
	}
	return true
}

// TB is the part of testing.TB that Verify needs.
type TB interface {
	Helper()
	Errorf(format string, args ...any)
}

// Verify fails t for every registered stub that no command used.
func (r *Recorder) Verify(t TB) {
	t.Helper()
	for _, u := range r.Unused() {
		t.Errorf("expected a command starting with %q, but it never ran", u)
	}
}
