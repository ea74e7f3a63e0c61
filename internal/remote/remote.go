// Package remote is nixctl's SSH client and the only package that imports
// golang.org/x/crypto/ssh. It dials hosts with the user's known_hosts, agent
// and key files, runs one remote command at a time under a context, and reads
// the host keys a server offers. A host key it cannot verify stops the
// connection with a *HostKeyError: nixctl never accepts a key silently.
package remote

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// Target is one SSH destination.
type Target struct {
	User    string
	Address string
	Port    int
	// Identity is a private key file tried before the default ones ("" = none).
	Identity string
}

// HostPort is address:port as net.Dial takes it (IPv6 in brackets).
func (t Target) HostPort() string {
	port := t.Port
	if port == 0 {
		port = 22
	}
	return net.JoinHostPort(t.Address, strconv.Itoa(port))
}

// String is user@address[:port], for messages.
func (t Target) String() string {
	s := t.Address
	if t.User != "" {
		s = t.User + "@" + s
	}
	if t.Port != 0 && t.Port != 22 {
		s += ":" + strconv.Itoa(t.Port)
	}
	return s
}

// Dialer opens SSH connections. The zero value checks nothing and offers no
// key; use NewDialer.
type Dialer struct {
	// KnownHostsFiles are read in order; missing files are skipped.
	KnownHostsFiles []string
	// IdentityFiles are private keys offered after the target's own; missing
	// files are skipped, passphrase-protected ones are left to the agent.
	IdentityFiles []string
	// AgentSocket is ssh-agent's socket ("" = no agent).
	AgentSocket string
	// Timeout bounds connecting and the SSH handshake (0 = 15s).
	Timeout time.Duration
	// Home expands a leading ~/ in the paths above and in Target.Identity.
	Home string
}

// DefaultTimeout bounds a connection attempt when Dialer.Timeout is zero.
const DefaultTimeout = 15 * time.Second

// NewDialer returns a Dialer with OpenSSH's defaults for the user whose home
// is home: ~/.ssh/known_hosts, /etc/ssh/ssh_known_hosts, the usual key files
// and $SSH_AUTH_SOCK.
func NewDialer(home string, getenv func(string) string) *Dialer {
	return &Dialer{
		KnownHostsFiles: []string{filepath.Join(home, ".ssh", "known_hosts"), "/etc/ssh/ssh_known_hosts"},
		IdentityFiles: []string{
			filepath.Join(home, ".ssh", "id_ed25519"),
			filepath.Join(home, ".ssh", "id_ecdsa"),
			filepath.Join(home, ".ssh", "id_rsa"),
		},
		AgentSocket: getenv("SSH_AUTH_SOCK"),
		Timeout:     DefaultTimeout,
		Home:        home,
	}
}

func (d *Dialer) expand(p string) string {
	if p == "~" {
		return d.Home
	}
	if strings.HasPrefix(p, "~/") {
		return filepath.Join(d.Home, p[2:])
	}
	return p
}

func (d *Dialer) timeout() time.Duration {
	if d.Timeout > 0 {
		return d.Timeout
	}
	return DefaultTimeout
}

// Client is an open SSH connection.
type Client struct {
	Target Target
	conn   *ssh.Client
}

// ConnectError is a host that could not be reached or would not let us in.
type ConnectError struct {
	Target Target
	Stage  string // "connect" or "authenticate"
	Err    error
}

func (e *ConnectError) Error() string {
	if e.Stage == "authenticate" {
		return fmt.Sprintf("ssh %s: authentication failed: %v", e.Target, e.Err)
	}
	return fmt.Sprintf("ssh %s: %v", e.Target, e.Err)
}

func (e *ConnectError) Unwrap() error { return e.Err }

// Hint says what to try next.
func (e *ConnectError) Hint() string {
	if e.Stage == "authenticate" {
		return fmt.Sprintf("check that one of your keys (ssh-agent, ~/.ssh/id_*, or the host's identity: in nixctl.yaml) is in %s's authorized_keys on %s", orDefault(e.Target.User, "the user"), e.Target.Address)
	}
	dest := e.Target.Address
	if e.Target.User != "" {
		dest = e.Target.User + "@" + dest
	}
	return fmt.Sprintf("check that %s is up and sshd listens on port %d (try: ssh -p %d %s)", e.Target.Address, portOr22(e.Target.Port), portOr22(e.Target.Port), dest)
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

func portOr22(p int) int {
	if p == 0 {
		return 22
	}
	return p
}

// Dial connects to t, verifying its host key against known_hosts and
// authenticating with t.Identity, the agent and the default key files.
// Cancelling ctx aborts the connection attempt.
func (d *Dialer) Dial(ctx context.Context, t Target) (*Client, error) {
	khCheck, err := d.knownHosts()
	if err != nil {
		return nil, err
	}
	auth, closeAgent, err := d.authMethods(t)
	if err != nil {
		return nil, err
	}
	defer closeAgent()
	hostport := t.HostPort()
	cfg := &ssh.ClientConfig{
		User:              t.User,
		Auth:              auth,
		HostKeyCallback:   khCheck.callback(),
		HostKeyAlgorithms: khCheck.algorithms(hostport),
		Timeout:           d.timeout(),
	}
	if cfg.User == "" {
		cfg.User = "root"
	}
	conn, chans, reqs, err := d.handshake(ctx, hostport, cfg)
	if err != nil {
		var hk *HostKeyError
		if errors.As(err, &hk) {
			return nil, hk
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("ssh %s: %w", t, ctx.Err())
		}
		stage := "connect"
		if strings.Contains(err.Error(), "unable to authenticate") {
			stage = "authenticate"
		}
		return nil, &ConnectError{Target: t, Stage: stage, Err: err}
	}
	return &Client{Target: t, conn: ssh.NewClient(conn, chans, reqs)}, nil
}

// handshake dials hostport and runs the SSH handshake, both bounded by the
// dialer's timeout and aborted when ctx is cancelled.
func (d *Dialer) handshake(ctx context.Context, hostport string, cfg *ssh.ClientConfig) (ssh.Conn, <-chan ssh.NewChannel, <-chan *ssh.Request, error) {
	ctx, cancel := context.WithTimeout(ctx, d.timeout())
	defer cancel()
	var nd net.Dialer
	tcp, err := nd.DialContext(ctx, "tcp", hostport)
	if err != nil {
		return nil, nil, nil, err
	}
	// The handshake itself does not take a context: closing the socket is
	// how a cancellation or the timeout interrupts it.
	done := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			_ = tcp.Close()
		case <-done:
		}
	}()
	conn, chans, reqs, err := ssh.NewClientConn(tcp, hostport, cfg)
	close(done)
	if err != nil {
		_ = tcp.Close()
		if ctx.Err() != nil && !errors.As(err, new(*HostKeyError)) {
			err = fmt.Errorf("%w (%v)", ctx.Err(), err)
		}
		return nil, nil, nil, err
	}
	return conn, chans, reqs, nil
}

// authMethods offers, in order: the target's identity file, the agent's
// keys, then the default key files.
func (d *Dialer) authMethods(t Target) ([]ssh.AuthMethod, func(), error) {
	var signers []ssh.Signer
	if t.Identity != "" {
		path := d.expand(t.Identity)
		s, err := loadKey(path)
		if err != nil {
			return nil, nil, &KeyFileError{Path: path, Err: err}
		}
		if s != nil {
			signers = append(signers, s)
		}
	}
	var agentSigners func() ([]ssh.Signer, error)
	closeAgent := func() {}
	if d.AgentSocket != "" {
		if c, err := net.Dial("unix", d.AgentSocket); err == nil {
			agentSigners = agent.NewClient(c).Signers
			closeAgent = func() { _ = c.Close() }
		}
	}
	for _, f := range d.IdentityFiles {
		s, err := loadKey(d.expand(f))
		if err == nil && s != nil {
			signers = append(signers, s)
		}
	}
	callback := func() ([]ssh.Signer, error) {
		out := append([]ssh.Signer(nil), signers[:min(len(signers), identityCount(t))]...)
		if agentSigners != nil {
			if as, err := agentSigners(); err == nil {
				out = append(out, as...)
			}
		}
		return append(out, signers[min(len(signers), identityCount(t)):]...), nil
	}
	return []ssh.AuthMethod{ssh.PublicKeysCallback(callback)}, closeAgent, nil
}

func identityCount(t Target) int {
	if t.Identity != "" {
		return 1
	}
	return 0
}

// loadKey reads an unencrypted private key. A missing file gives (nil, err
// with fs.ErrNotExist); a passphrase-protected one gives (nil, nil): the
// agent is the way to use it.
func loadKey(path string) (ssh.Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	s, err := ssh.ParsePrivateKey(data)
	if err != nil {
		var pm *ssh.PassphraseMissingError
		if errors.As(err, &pm) {
			return nil, nil
		}
		return nil, err
	}
	return s, nil
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
	Target     Target
	Command    string
	ExitCode   int
	StderrTail string
}

func (e *ExitError) Error() string {
	msg := fmt.Sprintf("on %s: %q exited with code %d", e.Target, e.Command, e.ExitCode)
	if e.StderrTail != "" {
		msg += ": " + lastLine(e.StderrTail)
	}
	return msg
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
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
		return -1, fmt.Errorf("ssh %s: new session: %w", c.Target, err)
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
		return -1, fmt.Errorf("ssh %s: start %q: %w", c.Target, command, err)
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
		return -1, fmt.Errorf("on %s: %q: %w", c.Target, command, ctx.Err())
	}
	if err == nil {
		return 0, nil
	}
	var ee *ssh.ExitError
	if errors.As(err, &ee) {
		return ee.ExitStatus(), &ExitError{Target: c.Target, Command: command, ExitCode: ee.ExitStatus(), StderrTail: tail(errBuf.String(), 20)}
	}
	var missing *ssh.ExitMissingError
	if errors.As(err, &missing) {
		return -1, &ExitError{Target: c.Target, Command: command, ExitCode: -1, StderrTail: tail(errBuf.String(), 20)}
	}
	return -1, fmt.Errorf("ssh %s: %q: %w", c.Target, command, err)
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

// Close closes the connection.
func (c *Client) Close() error { return c.conn.Close() }

// Session is an open connection that runs commands; *Client is one.
type Session interface {
	Run(ctx context.Context, command string, stdin io.Reader) (*Result, error)
	Close() error
}

// Connector opens sessions: *Dialer in real use, a fake in tests of code
// that only runs commands.
type Connector interface {
	Connect(ctx context.Context, t Target) (Session, error)
}

// Connect is Dial returning a Session, so that *Dialer is a Connector.
func (d *Dialer) Connect(ctx context.Context, t Target) (Session, error) {
	c, err := d.Dial(ctx, t)
	if err != nil {
		return nil, err
	}
	return c, nil
}
