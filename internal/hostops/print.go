package hostops

import (
	"context"
	"fmt"
	"io"
	"strconv"

	"github.com/nixctl/nixctl/internal/execx"
	"github.com/nixctl/nixctl/internal/remote"
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

// PrintConnector is the Connector of --dry-run: each host is a PrintConn on
// Out, reached by its route's ssh command line. Out is shared by goroutines
// (hosts run in parallel): it must take each line in one Write.
type PrintConnector struct{ Out io.Writer }

// Connect dials nothing.
func (p PrintConnector) Connect(_ context.Context, r remote.Route, sudo bool) (System, error) {
	return p.open(r, sudo)
}

// ConnectHome dials nothing.
func (p PrintConnector) ConnectHome(_ context.Context, r remote.Route) (Home, error) {
	return p.open(r, false)
}

// ConnectCluster dials nothing.
func (p PrintConnector) ConnectCluster(_ context.Context, r remote.Route, sudo bool) (Cluster, error) {
	return p.open(r, sudo)
}

func (p PrintConnector) open(r remote.Route, sudo bool) (*Host, error) {
	return New(PrintConn{Out: p.Out, SSH: r.Command()}, "/", sudo, r.String())
}

// A dry run reads nothing from a host: a read over a PrintConn answers a
// stand-in marked Planned, with placeholders where values would be.

// PlannedGeneration stands for a generation number a dry run did not read.
const PlannedGeneration = -1

// plannedStatus is what Status answers over a PrintConn.
func plannedStatus(host string) Status {
	cur := "<system " + host + " runs now>"
	return Status{Planned: true, Current: cur, Booted: cur, Profile: cur, Generation: PlannedGeneration}
}

// plannedKubeconfig is what AdminKubeconfig answers over a PrintConn: an
// admin kubeconfig shaped as k0s writes it (a server on localhost, one
// context), naming the host, with placeholders for what only the host has.
func plannedKubeconfig(host string) []byte {
	name := strconv.Quote("<cluster of " + host + ">")
	secret := func(what string) string { return strconv.Quote("<" + what + " read from " + host + " at run time>") }
	return []byte(`apiVersion: v1
kind: Config
clusters:
  - name: ` + name + `
    cluster:
      server: https://localhost:6443
      certificate-authority-data: ` + secret("certificate authority") + `
contexts:
  - name: ` + name + `
    context:
      cluster: ` + name + `
      user: ` + name + `
current-context: ` + name + `
users:
  - name: ` + name + `
    user:
      client-certificate-data: ` + secret("client certificate") + `
      client-key-data: ` + secret("client key") + `
`)
}

// generationArg is a generation as a script argument, or its placeholder.
func generationArg(n int) string {
	if n == PlannedGeneration {
		return "<generation running now>"
	}
	return strconv.Itoa(n)
}

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
