package execx

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"time"
)

// Real runs processes on this machine. Each child gets its own process group,
// so cancelling the context kills the child and everything it started.
type Real struct {
	// Debug, when set, receives each argv before it runs (verbose mode).
	Debug func(c Cmd)
	// Env is every child's environment, NAME=value, before Cmd.Env; its
	// PATH is where commands are found. nil is this process's own.
	Env []string
}

// NewReal returns the runner that really executes commands in this
// process's environment.
func NewReal() *Real { return &Real{} }

// LookPath finds name in PATH.
func (r *Real) LookPath(name string) (string, error) {
	if r.Env == nil {
		return exec.LookPath(name)
	}
	return lookPath(name, pathOf(r.Env))
}

// Run starts c and waits for it.
func (r *Real) Run(ctx context.Context, c Cmd) (*Result, error) {
	if len(c.Argv) == 0 {
		return nil, errors.New("execx: empty argv")
	}
	if r.Debug != nil {
		r.Debug(c)
	}
	cmd := exec.CommandContext(ctx, c.Argv[0], c.Argv[1:]...)
	cmd.Dir = c.Dir
	if r.Env != nil {
		// exec found the command in this process's PATH; the child's is
		// the one that counts.
		if !strings.Contains(c.Argv[0], "/") {
			if cmd.Path, cmd.Err = lookPath(c.Argv[0], pathOf(r.Env)); cmd.Err != nil {
				cmd.Path = c.Argv[0]
			}
		}
		cmd.Env = slices.Concat(r.Env, c.Env)
	} else if len(c.Env) > 0 {
		cmd.Env = append(os.Environ(), c.Env...)
	}
	cmd.Stdin = c.Stdin
	var stdout, stderr bytes.Buffer
	if c.Interactive {
		return r.runInteractive(cmd, c)
	}
	cmd.Stdout = tee(&stdout, c.Stdout)
	cmd.Stderr = tee(&stderr, c.Stderr)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		// The negative pid names the whole process group.
		if cmd.Process != nil {
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
			go func(pid int) {
				time.Sleep(2 * time.Second)
				_ = syscall.Kill(-pid, syscall.SIGKILL)
			}(cmd.Process.Pid)
		}
		return nil
	}
	cmd.WaitDelay = 5 * time.Second
	start := time.Now()
	err := cmd.Run()
	res := &Result{Stdout: stdout.Bytes(), Stderr: stderr.Bytes(), Duration: time.Since(start)}
	if cmd.ProcessState != nil {
		res.ExitCode = cmd.ProcessState.ExitCode()
		res.MaxRSS = maxRSS(cmd.ProcessState)
	}
	// Whatever happened, leave no member of the group behind.
	if cmd.Process != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	if err != nil {
		if ctx.Err() != nil {
			err = errors.Join(ctx.Err(), err)
		}
		if res.ExitCode == 0 {
			res.ExitCode = -1
		}
		return res, &ExitError{Argv: c.Argv, ExitCode: res.ExitCode, StderrTail: Tail(string(res.Stderr), 20), Err: err}
	}
	return res, nil
}

func tee(buf *bytes.Buffer, w io.Writer) io.Writer {
	if w == nil {
		return buf
	}
	return io.MultiWriter(buf, w)
}

// runInteractive runs a child that shares the terminal (same process group:
// Ctrl-C reaches it as it reaches nixctl). Cancelling the context kills it.
func (r *Real) runInteractive(cmd *exec.Cmd, c Cmd) (*Result, error) {
	cmd.Stdout, cmd.Stderr = c.Stdout, c.Stderr
	start := time.Now()
	err := cmd.Run()
	res := &Result{Duration: time.Since(start)}
	if cmd.ProcessState != nil {
		res.ExitCode = cmd.ProcessState.ExitCode()
	}
	if err != nil {
		if res.ExitCode == 0 {
			res.ExitCode = -1
		}
		return res, &ExitError{Argv: c.Argv, ExitCode: res.ExitCode, Err: err}
	}
	return res, nil
}

func maxRSS(ps *os.ProcessState) int64 {
	if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
		return ru.Maxrss
	}
	return 0
}
