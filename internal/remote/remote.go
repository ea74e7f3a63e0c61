// Package remote is nixctl's SSH client and the only package that imports
// golang.org/x/crypto/ssh. It resolves a host as OpenSSH does (ssh_config,
// ProxyJump, the inventory's options as command-line ones) into a Route,
// which both its dialer and the argv given to ssh, nixos-rebuild and nix
// copy are built from; dials it with known_hosts, agent and key files; runs
// one remote command at a time under a context; and reads the host keys a
// server offers. A host key it cannot verify stops the connection with a
// *HostKeyError: nixctl never accepts a key silently.
package remote

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"

	"github.com/nixctl/nixctl/internal/execx"
)

// Dialer opens SSH connections along a Route. The zero value is ready.
type Dialer struct{}

// DefaultTimeout bounds a connection attempt when the route sets no
// ConnectTimeout.
const DefaultTimeout = 15 * time.Second

func timeoutOf(r Route) time.Duration {
	if r.ConnectTimeout > 0 {
		return r.ConnectTimeout
	}
	return DefaultTimeout
}

// Client is an open SSH connection.
type Client struct {
	Route Route
	conn  *ssh.Client
	// jumps are the hops' connections, closed with this one.
	jumps []*ssh.Client
}

// ConnectError is a host that could not be reached or would not let us in.
type ConnectError struct {
	Route Route
	Stage string // "connect" or "authenticate"
	Err   error
}

func (e *ConnectError) Error() string {
	if e.Stage == "authenticate" {
		return fmt.Sprintf("ssh %s: authentication failed: %v", e.Route, e.Err)
	}
	return fmt.Sprintf("ssh %s: %v", e.Route, e.Err)
}

func (e *ConnectError) Unwrap() error { return e.Err }

// Hint says what to try next, with an ssh command that takes the same
// route.
func (e *ConnectError) Hint() string {
	try := execx.Quote(e.Route.Command("true"))
	if e.Stage == "authenticate" {
		return fmt.Sprintf("check that one of your keys (ssh-agent, the IdentityFile of ~/.ssh/config or ~/.ssh/id_*, or identity: in nixctl.yaml) is in %s's authorized_keys on %s (try: %s)", e.Route.User, e.Route.HostName, try)
	}
	return fmt.Sprintf("check that %s is up and sshd listens on port %d (try: %s)", e.Route.HostName, e.Route.Port, try)
}

// Dial connects along r: through its jump hosts, each checked against its
// own known_hosts, then to the host itself, verifying its key and
// authenticating with r's identities and agent. Cancelling ctx aborts it.
func (d *Dialer) Dial(ctx context.Context, r Route) (*Client, error) {
	conn, jumps, err := d.transport(ctx, r)
	if err != nil {
		return nil, err
	}
	c, err := d.handshake(ctx, conn, r)
	if err != nil {
		closeAll(jumps)
		return nil, err
	}
	return &Client{Route: r, conn: c, jumps: jumps}, nil
}

func closeAll(cs []*ssh.Client) {
	for i := len(cs) - 1; i >= 0; i-- {
		_ = cs[i].Close()
	}
}

// transport opens the byte stream to r: a TCP connection, or a channel
// through r's jump host (whose connections come back to be closed last).
func (d *Dialer) transport(ctx context.Context, r Route) (net.Conn, []*ssh.Client, error) {
	ctx, cancel := context.WithTimeout(ctx, timeoutOf(r))
	defer cancel()
	if r.Jump == nil {
		var nd net.Dialer
		conn, err := nd.DialContext(ctx, "tcp", r.Addr())
		if err != nil {
			return nil, nil, d.connectErr(ctx, r, err)
		}
		return conn, nil, nil
	}
	jc, err := d.Dial(ctx, *r.Jump)
	if err != nil {
		return nil, nil, &JumpError{Route: r, Err: err}
	}
	jumps := append(jc.jumps, jc.conn)
	conn, err := jc.conn.DialContext(ctx, "tcp", r.Addr())
	if err != nil {
		closeAll(jumps)
		return nil, nil, d.connectErr(ctx, r, fmt.Errorf("through %s: %w", r.Jump.Name, err))
	}
	return conn, jumps, nil
}

func (d *Dialer) connectErr(ctx context.Context, r Route, err error) error {
	if ctx.Err() != nil && !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("ssh %s: %w", r, ctx.Err())
	}
	return &ConnectError{Route: r, Stage: "connect", Err: err}
}

// JumpError is a jump host that could not be passed.
type JumpError struct {
	Route Route
	Err   error
}

func (e *JumpError) Error() string {
	return fmt.Sprintf("ssh %s: jump host %s: %v", e.Route.Name, e.Route.Jump.Name, e.Err)
}

func (e *JumpError) Unwrap() error { return e.Err }

// handshake runs the SSH handshake over conn, bounded by r's timeout and
// aborted when ctx is cancelled.
func (d *Dialer) handshake(ctx context.Context, conn net.Conn, r Route) (*ssh.Client, error) {
	khCheck, err := knownHostsFor(r)
	if err != nil {
		_ = conn.Close()
		return nil, err
	}
	auth, closeAgent, err := authMethods(r)
	if err != nil {
		_ = conn.Close()
		return nil, err
	}
	defer closeAgent()
	cfg := &ssh.ClientConfig{
		User:              r.User,
		Auth:              auth,
		HostKeyCallback:   khCheck.callback(),
		HostKeyAlgorithms: khCheck.algorithms(r.KnownHostsAddr()),
		Timeout:           timeoutOf(r),
	}
	c, chans, reqs, err := clientConn(ctx, conn, r.KnownHostsAddr(), cfg)
	if err != nil {
		var hk *HostKeyError
		if errors.As(err, &hk) {
			hk.Route = r
			return nil, hk
		}
		if ctx.Err() != nil && !errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return nil, fmt.Errorf("ssh %s: %w", r, ctx.Err())
		}
		stage := "connect"
		if strings.Contains(err.Error(), "unable to authenticate") {
			stage = "authenticate"
		}
		return nil, &ConnectError{Route: r, Stage: stage, Err: err}
	}
	return ssh.NewClient(c, chans, reqs), nil
}

// clientConn is ssh.NewClientConn under a deadline: the handshake itself
// takes no context, so closing the connection is how a cancellation or the
// timeout interrupts it.
func clientConn(ctx context.Context, conn net.Conn, addr string, cfg *ssh.ClientConfig) (ssh.Conn, <-chan ssh.NewChannel, <-chan *ssh.Request, error) {
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	done := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			_ = conn.Close()
		case <-done:
		}
	}()
	c, chans, reqs, err := ssh.NewClientConn(conn, addr, cfg)
	close(done)
	if err != nil {
		_ = conn.Close()
		if ctx.Err() != nil && !errors.As(err, new(*HostKeyError)) {
			// The cancellation is the cause; the handshake error it provoked
			// is only what it looked like, so it is kept as text, not as a
			// second cause a caller could classify the failure by.
			err = fmt.Errorf("%w (%s)", ctx.Err(), err.Error())
		}
		return nil, nil, nil, err
	}
	return c, chans, reqs, nil
}

// authMethods offers, in order: the route's identity files that load, the
// agent's keys (with IdentitiesOnly, only those of the identity files).
func authMethods(r Route) ([]ssh.AuthMethod, func(), error) {
	var signers []ssh.Signer
	var pubs []ssh.PublicKey
	for _, path := range r.Identities {
		s, pub, err := loadKey(path)
		if err != nil {
			// ssh skips a configured key file it cannot read; the one the
			// inventory names must be there.
			if path == r.RequiredIdentity {
				return nil, nil, &KeyFileError{Path: path, Err: err}
			}
			continue
		}
		if s != nil {
			signers = append(signers, s)
		}
		if pub != nil {
			pubs = append(pubs, pub)
		}
	}
	var agentSigners func() ([]ssh.Signer, error)
	closeAgent := func() {}
	if r.Agent != "" {
		if c, err := net.Dial("unix", r.Agent); err == nil {
			agentSigners = agent.NewClient(c).Signers
			closeAgent = func() { _ = c.Close() }
		}
	}
	callback := func() ([]ssh.Signer, error) {
		out := append([]ssh.Signer(nil), signers...)
		if agentSigners != nil {
			if as, err := agentSigners(); err == nil {
				for _, s := range as {
					if !r.IdentitiesOnly || hasKey(pubs, s.PublicKey()) {
						out = append(out, s)
					}
				}
			}
		}
		return out, nil
	}
	return []ssh.AuthMethod{ssh.PublicKeysCallback(callback)}, closeAgent, nil
}

func hasKey(keys []ssh.PublicKey, k ssh.PublicKey) bool {
	for _, x := range keys {
		if bytes.Equal(x.Marshal(), k.Marshal()) {
			return true
		}
	}
	return false
}

// loadKey reads a private key file. A passphrase-protected key gives no
// signer (the agent is the way to use it) but its public key, which
// IdentitiesOnly needs to pick the agent's matching key.
func loadKey(path string) (ssh.Signer, ssh.PublicKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	s, err := ssh.ParsePrivateKey(data)
	if err != nil {
		var pm *ssh.PassphraseMissingError
		if errors.As(err, &pm) {
			pub := pm.PublicKey
			if pub == nil {
				if b, err := os.ReadFile(path + ".pub"); err == nil {
					pub, _, _, _, _ = ssh.ParseAuthorizedKey(b)
				}
			}
			return nil, pub, nil
		}
		return nil, nil, err
	}
	return s, s.PublicKey(), nil
}

// KeyFileError is an identity file nixctl was told to use but cannot read.
type KeyFileError struct {
	Path string
	Err  error
}

func (e *KeyFileError) Error() string {
	return fmt.Sprintf("identity file %s: %v", e.Path, e.Err)
}

func (e *KeyFileError) Unwrap() error { return e.Err }

// Hint says what to fix.
func (e *KeyFileError) Hint() string {
	return "identity: in nixctl.yaml names an unencrypted private key file (ssh-keygen -t ed25519); keys with a passphrase go through ssh-agent"
}

// Result is what a remote command left behind.
type Result struct {
	Stdout   []byte
	Stderr   []byte
	ExitCode int
}

// ExitError is a remote command that exited non-zero (ExitCode -1: killed
// by a signal or no status).
type ExitError struct {
	Route      Route
	Command    string
	ExitCode   int
	StderrTail string
}

func (e *ExitError) Error() string {
	msg := fmt.Sprintf("on %s: %q exited with code %d", e.Route.Name, e.Command, e.ExitCode)
	if e.StderrTail != "" {
		msg += ": " + execx.LastLine(e.StderrTail)
	}
	return msg
}

// Run runs command in the remote user's shell, feeding it stdin (nil = no
// input). A non-zero exit returns the Result and an *ExitError. Cancelling
// ctx signals the command and closes the session.
func (c *Client) Run(ctx context.Context, command string, stdin io.Reader) (*Result, error) {
	var stdout, stderr bytes.Buffer
	code, err := c.Stream(ctx, command, stdin, &stdout, &stderr)
	res := &Result{Stdout: stdout.Bytes(), Stderr: stderr.Bytes(), ExitCode: code}
	if err != nil {
		return res, err
	}
	return res, nil
}

// Stream is Run writing the command's output to stdout and stderr as it
// comes (either may be nil). It returns the exit code.
func (c *Client) Stream(ctx context.Context, command string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	if err := ctx.Err(); err != nil {
		return -1, err
	}
	sess, err := c.conn.NewSession()
	if err != nil {
		return -1, fmt.Errorf("ssh %s: new session: %w", c.Route, err)
	}
	defer sess.Close()
	var errBuf tailBuffer
	if stdout == nil {
		stdout = io.Discard
	}
	errW := io.Writer(&errBuf)
	if stderr != nil {
		errW = io.MultiWriter(&errBuf, stderr)
	}
	// After a cancellation Stream returns while the session may still be
	// delivering output: the gate stops writes into the caller's buffers.
	gate := &gate{}
	sess.Stdin = stdin
	sess.Stdout = gate.writer(stdout)
	sess.Stderr = gate.writer(errW)
	defer gate.close()
	if err := sess.Start(command); err != nil {
		return -1, fmt.Errorf("ssh %s: start %q: %w", c.Route, command, err)
	}
	done := make(chan error, 1)
	go func() { done <- sess.Wait() }()
	select {
	case err = <-done:
	case <-ctx.Done():
		// The signal reaches the remote shell; its children may hold the
		// channel open, so nixctl does not wait for them to exit.
		_ = sess.Signal(ssh.SIGKILL)
		_ = sess.Close()
		return -1, fmt.Errorf("on %s: %q: %w", c.Route, command, ctx.Err())
	}
	if err == nil {
		return 0, nil
	}
	var ee *ssh.ExitError
	if errors.As(err, &ee) {
		return ee.ExitStatus(), &ExitError{Route: c.Route, Command: command, ExitCode: ee.ExitStatus(), StderrTail: execx.Tail(errBuf.String(), 20)}
	}
	var missing *ssh.ExitMissingError
	if errors.As(err, &missing) {
		return -1, &ExitError{Route: c.Route, Command: command, ExitCode: -1, StderrTail: execx.Tail(errBuf.String(), 20)}
	}
	return -1, fmt.Errorf("ssh %s: %q: %w", c.Route, command, err)
}

// gate passes writes through until closed, then drops them.
type gate struct {
	mu     sync.Mutex
	closed bool
}

func (g *gate) close() {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
}

func (g *gate) writer(w io.Writer) io.Writer {
	return writerFunc(func(p []byte) (int, error) {
		g.mu.Lock()
		defer g.mu.Unlock()
		if g.closed {
			return len(p), nil
		}
		return w.Write(p)
	})
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// tailBuffer keeps the last 64 KiB written, for error messages.
type tailBuffer struct{ b []byte }

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if len(t.b) > 64<<10 {
		t.b = t.b[len(t.b)-64<<10:]
	}
	return len(p), nil
}

func (t *tailBuffer) String() string { return string(t.b) }

// Close closes the connection, then the jump hosts' ones.
func (c *Client) Close() error {
	err := c.conn.Close()
	closeAll(c.jumps)
	return err
}

// Session is an open connection that runs commands; *Client is one.
type Session interface {
	Run(ctx context.Context, command string, stdin io.Reader) (*Result, error)
	Close() error
}

// Connector opens sessions: *SSH in real use, a fake in tests of code
// that only runs commands.
type Connector interface {
	Connect(ctx context.Context, r Route) (Session, error)
}

// Connect is Dial returning a Session, so that *Dialer (and *SSH) is a
// Connector.
func (d *Dialer) Connect(ctx context.Context, r Route) (Session, error) {
	c, err := d.Dial(ctx, r)
	if err != nil {
		return nil, err
	}
	return c, nil
}
