package hostops

import (
	"context"
	"fmt"
	"io"

	"github.com/nixctl/nixctl/internal/execx"
)

// PrintConn is the Conn of --dry-run: each operation prints the ssh command
// line that would run it (the script shown by its file name, see
// DisplayCommand) and runs nothing; every operation "succeeds" with no
// output.
type PrintConn struct {
	Out io.Writer
	// SSH is the ssh command and its arguments, destination included.
	SSH []string
}

// Stream prints a command line that is not a script.
func (p PrintConn) Stream(_ context.Context, command string, _ io.Reader, _, _ io.Writer) (int, error) {
	_, err := fmt.Fprintln(p.Out, execx.Quote(append(append([]string(nil), p.SSH...), command)))
	return 0, err
}

func (p PrintConn) printScript(name string, sudo bool, root string, args []string) error {
	_, err := fmt.Fprintln(p.Out, execx.Quote(p.SSH)+" "+execx.QuoteWord(DisplayCommand(name, sudo, root, args...)))
	return err
}

// Close does nothing.
func (PrintConn) Close() error { return nil }

// DisplayCommand is the command line of a host operation as a printed plan
// shows it: the command line nixctl sends, with the script's text replaced
// by <NAME.sh> (its file under internal/hostops/scripts).
func DisplayCommand(name string, sudo bool, root string, args ...string) string {
	line := `sh -c "<` + name + `.sh>" ` + execx.Quote(append([]string{"nixctl-" + name, root}, args...))
	if sudo {
		line = "sudo -n " + line
	}
	return line
}
