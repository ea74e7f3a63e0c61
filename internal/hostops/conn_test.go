package hostops

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os/exec"

	"github.com/nixctl/nixctl/internal/remote"
)

// localConn runs command lines with the local sh, as sshd would run them
// with the login user's shell.
type localConn struct {
	env []string
}

func (c localConn) Stream(ctx context.Context, command string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	cmd := exec.CommandContext(ctx, "sh", "-c", command)
	cmd.Env = c.env
	cmd.Stdin = stdin
	var errBuf bytes.Buffer
	cmd.Stdout = stdout
	if stdout == nil {
		cmd.Stdout = io.Discard
	}
	cmd.Stderr = &errBuf
	if stderr != nil {
		cmd.Stderr = io.MultiWriter(&errBuf, stderr)
	}
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), &remote.ExitError{Command: command, ExitCode: ee.ExitCode(), StderrTail: errBuf.String()}
	}
	if err != nil {
		return -1, err
	}
	return 0, nil
}

func (localConn) Close() error { return nil }
