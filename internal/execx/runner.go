// Package execx is the only place nixctl starts local processes. Every child
// goes through a Runner so that dry-run prints the plan instead of running it
// and tests record what would have run.
package execx

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"
)

// Cmd describes one process to run. Argv is never passed through a shell.
type Cmd struct {
	Argv []string
	// Env is added to the current environment (KEY=VALUE).
	Env []string
	Dir string
	// Stdin is fed to the child; nil means no input.
	Stdin io.Reader
	// Stdout and Stderr, when set, receive a live copy of the child's output.
	// The output is captured in Result either way.
	Stdout io.Writer
	Stderr io.Writer
	// ReadOnly marks a command that changes nothing (an evaluation, a
	// version query): dry-run still runs it, so plans can be computed.
	ReadOnly bool
	// Planned is what the dry-run runner answers on stdout for a command
	// it prints instead of running: what the rest of the plan needs from
	// it, in its own format, with placeholders for what is not known yet
	// (a build's --json naming "<built toplevel of HOST>").
	Planned []byte
	// Skippable, on a read-only command, says what it is for when its
	// caller can do without its result (it only sharpens what follows):
	// a dry run does not run it, says so once per description, and
	// answers ErrSkipped.
	Skippable string
	// Interactive runs the child in nixctl's own process group with the
	// given streams attached as they are (an editor on the terminal): a
	// child in a group of its own could not read the terminal. Its output
	// is not captured.
	Interactive bool
}

// String shows the command as a user could paste it into a shell.
func (c Cmd) String() string {
	s := Quote(c.Argv)
	// KEY='v a l' (not 'KEY=v a l', which a shell runs as a command).
	for i := len(c.Env) - 1; i >= 0; i-- {
		k, v, _ := strings.Cut(c.Env[i], "=")
		s = k + "=" + QuoteWord(v) + " " + s
	}
	return s
}

// Result is what a finished process left behind.
type Result struct {
	Stdout   []byte
	Stderr   []byte
	ExitCode int
	Duration time.Duration
	// MaxRSS is the child's peak resident memory in KiB (0 if unknown).
	MaxRSS int64
}

// Runner runs commands. A non-zero exit returns the Result and an *ExitError.
type Runner interface {
	Run(ctx context.Context, c Cmd) (*Result, error)
	LookPath(name string) (string, error)
}

// ExitError reports a command that failed, with what the user needs to see.
type ExitError struct {
	Argv       []string
	ExitCode   int
	StderrTail string
	Err        error
}

func (e *ExitError) Error() string {
	msg := fmt.Sprintf("%s exited with code %d", displayName(e.Argv), e.ExitCode)
	if e.ExitCode < 0 && e.Err != nil {
		msg = fmt.Sprintf("%s: %v", displayName(e.Argv), e.Err)
	}
	if e.StderrTail != "" {
		msg += ": " + LastLine(e.StderrTail)
	}
	return msg
}

func (e *ExitError) Unwrap() error { return e.Err }

func displayName(argv []string) string {
	if len(argv) == 0 {
		return "command"
	}
	if len(argv) > 1 && !strings.HasPrefix(argv[1], "-") {
		return argv[0] + " " + argv[1]
	}
	return argv[0]
}

// LastLine is the last non-blank line of s, trimmed: what a failed
// process's stderr says last, usually why it failed.
func LastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// Tail returns the last n lines of s.
func Tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
