package testutil

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os/exec"

	"github.com/nixctl/nixctl/internal/remote"
)

// LocalConn runs command lines with the local sh, as sshd runs them with
// the login user's shell: what a host script does, tested without sshd.
// Env is the command's environment (nil: this process's).
type LocalConn struct {
	Env []string
}

// Stream runs command, answering as a remote session does: a command that
// exits non-zero is a *remote.ExitError with the end of its stderr.
func (c LocalConn) Stream(ctx context.Context, command string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	cmd := exec.CommandContext(ctx, "sh", "-c", command)
	cmd.Env = c.Env
	cmd.Stdin = stdin
	cmd.Stdout = stdout
	if stdout == nil {
		cmd.Stdout = io.Discard
	}
	var tail bytes.Buffer
	cmd.Stderr = &tail
	if stderr != nil {
		cmd.Stderr = io.MultiWriter(&tail, stderr)
	}
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), &remote.ExitError{Command: command, ExitCode: ee.ExitCode(), StderrTail: tail.String()}
	}
	if err != nil {
		return -1, err
	}
	return 0, nil
}

// Close does nothing: there is no session to end.
func (LocalConn) Close() error { return nil }
