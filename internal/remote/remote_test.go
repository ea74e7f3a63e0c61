package remote_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/nixctl/nixctl/internal/execx"
	"github.com/nixctl/nixctl/internal/remote"
	"github.com/nixctl/nixctl/internal/testutil"
)

// sshFor reads no configuration but home's: ~/.ssh/config (if written) and
// ~/.ssh/known_hosts holding s's key.
func sshFor(t *testing.T, s *testutil.SSHD, home string) *remote.SSH {
	t.Helper()
	kh, err := os.ReadFile(s.KnownHostsFile)
	if err != nil {
		t.Fatal(err)
	}
	testutil.WriteFiles(t, home, map[string]string{".ssh/known_hosts": string(kh)})
	c, err := remote.New(remote.Env{Home: home, SystemHome: home, SystemConfig: filepath.Join(home, "no-system-config")})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// routeTo is s as an inventory entry with its address, port, user and key.
func routeTo(t *testing.T, s *testutil.SSHD) (*remote.SSH, remote.Route) {
	t.Helper()
	c := sshFor(t, s, t.TempDir())
	r, err := c.Route(remote.Spec{Host: "127.0.0.1", Port: s.Port, User: s.User, Identity: s.ClientKeyFile})
	if err != nil {
		t.Fatal(err)
	}
	return c, r
}

func TestDialAndRun(t *testing.T) {
	s := testutil.StartSSHD(t, testutil.SSHDOptions{})
	ctx := context.Background()
	d, r := routeTo(t, s)
	c, err := d.Dial(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	res, err := c.Run(ctx, "echo out; echo err >&2", nil)
	if err != nil {
		t.Fatal(err)
	}
	if string(res.Stdout) != "out\n" || string(res.Stderr) != "err\n" || res.ExitCode != 0 {
		t.Errorf("got %+v", res)
	}

	res, err = c.Run(ctx, "cat; exit 3", strings.NewReader("fed"))
	var ee *remote.ExitError
	if !errors.As(err, &ee) || ee.ExitCode != 3 || res.ExitCode != 3 || string(res.Stdout) != "fed" {
		t.Fatalf("want exit 3 with stdin echoed, got %v, %+v", err, res)
	}

	// One quoted word survives the remote shell intact.
	odd := `it's $(not run) "x"`
	res, err = c.Run(ctx, "printf %s "+execx.QuoteWord(odd), nil)
	if err != nil || string(res.Stdout) != odd {
		t.Errorf("quoted word came back as %q (%v)", res.Stdout, err)
	}
}

func TestDialNonRootUser(t *testing.T) {
	s := testutil.StartSSHD(t, testutil.SSHDOptions{User: "nixctl-test"})
	d, r := routeTo(t, s)
	c, err := d.Dial(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	res, err := c.Run(context.Background(), "id -un", nil)
	if err != nil || strings.TrimSpace(string(res.Stdout)) != "nixctl-test" {
		t.Fatalf("id -un = %q, %v", res.Stdout, err)
	}
}

func TestSessionEnv(t *testing.T) {
	s := testutil.StartSSHD(t, testutil.SSHDOptions{Env: map[string]string{"NIXCTL_TEST_MARK": "set"}})
	d, r := routeTo(t, s)
	c, err := d.Dial(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	res, err := c.Run(context.Background(), "echo $NIXCTL_TEST_MARK", nil)
	if err != nil || strings.TrimSpace(string(res.Stdout)) != "set" {
		t.Fatalf("env = %q, %v", res.Stdout, err)
	}
}

func TestUnknownHostKeyRefused(t *testing.T) {
	s := testutil.StartSSHD(t, testutil.SSHDOptions{})
	d, r := routeTo(t, s)
	r.UserKnownHosts = []string{filepath.Join(t.TempDir(), "missing_known_hosts")}
	_, err := d.Dial(context.Background(), r)
	var hk *remote.HostKeyError
	if !errors.As(err, &hk) || hk.Kind != remote.HostKeyUnknown {
		t.Fatalf("want an unknown host key error, got %v", err)
	}
	if want := fmt.Sprintf("[127.0.0.1]:%d", s.Port); hk.Host != want {
		t.Errorf("Host = %q, want %q", hk.Host, want)
	}
	if !strings.HasPrefix(hk.Fingerprint, "SHA256:") || !strings.Contains(err.Error(), hk.Fingerprint) {
		t.Errorf("error %q should name the fingerprint", err)
	}
	if want := fmt.Sprintf("ssh-keyscan -p %d 127.0.0.1 >> ", s.Port); !strings.Contains(hk.Hint(), want) {
		t.Errorf("hint %q should contain %q", hk.Hint(), want)
	}
}

func TestChangedHostKeyRefused(t *testing.T) {
	s := testutil.StartSSHD(t, testutil.SSHDOptions{})
	d, r := routeTo(t, s)
	// The host is "reinstalled": known_hosts keeps its old key.
	s.SetHostKey(testutil.NewEd25519Key(t))
	_, err := d.Dial(context.Background(), r)
	var hk *remote.HostKeyError
	if !errors.As(err, &hk) || hk.Kind != remote.HostKeyChanged {
		t.Fatalf("want a changed host key error, got %v", err)
	}
	if hk.KnownHostsFile != r.UserKnownHosts[0] || hk.Line != 1 {
		t.Errorf("conflict at %s:%d, want %s:1", hk.KnownHostsFile, hk.Line, r.UserKnownHosts[0])
	}
	if !strings.Contains(hk.Hint(), "ssh-keygen -R") {
		t.Errorf("hint %q should say how to remove the old key", hk.Hint())
	}

	_, err = d.FetchHostKeys(context.Background(), r)
	if !errors.As(err, &hk) || hk.Kind != remote.HostKeyChanged {
		t.Fatalf("FetchHostKeys: want a changed host key error, got %v", err)
	}
}

func TestFetchHostKeys(t *testing.T) {
	s := testutil.StartSSHD(t, testutil.SSHDOptions{})
	d, r := routeTo(t, s)
	keys, err := d.FetchHostKeys(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 {
		t.Fatalf("want the one ed25519 host key, got %+v", keys)
	}
	k := keys[0]
	if k.Type != "ssh-ed25519" || k.AuthorizedKey != s.HostKeyPub || len(k.Ed25519) != 32 || !k.Known {
		t.Errorf("got %+v", k)
	}
	if !bytes.Equal(k.Ed25519, s.HostKey.Public().(ed25519.PublicKey)) {
		t.Errorf("Ed25519 bytes differ from the server's key")
	}

	r.UserKnownHosts = nil
	keys, err = d.FetchHostKeys(context.Background(), r)
	if err != nil || len(keys) != 1 || keys[0].Known {
		t.Fatalf("without known_hosts: want one unknown key, got %+v, %v", keys, err)
	}
}

func TestAuthenticationFailure(t *testing.T) {
	s := testutil.StartSSHD(t, testutil.SSHDOptions{})
	other := filepath.Join(t.TempDir(), "other_key")
	s2 := testutil.StartSSHD(t, testutil.SSHDOptions{})
	data, err := os.ReadFile(s2.ClientKeyFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(other, data, 0o600); err != nil {
		t.Fatal(err)
	}
	d := sshFor(t, s, t.TempDir())
	tg, err := d.Route(remote.Spec{Host: "127.0.0.1", Port: s.Port, User: s.User, Identity: other})
	if err != nil {
		t.Fatal(err)
	}
	_, err = d.Dial(context.Background(), tg)
	var ce *remote.ConnectError
	if !errors.As(err, &ce) || ce.Stage != "authenticate" || !strings.Contains(ce.Hint(), "authorized_keys") {
		t.Fatalf("want an authentication error with a hint, got %v", err)
	}

	tg, err = d.Route(remote.Spec{Host: "127.0.0.1", Port: s.Port, User: s.User, Identity: filepath.Join(t.TempDir(), "nope")})
	if err != nil {
		t.Fatal(err)
	}
	_, err = d.Dial(context.Background(), tg)
	var kf *remote.KeyFileError
	if !errors.As(err, &kf) {
		t.Fatalf("want a key file error, got %v", err)
	}
}

func TestConnectRefused(t *testing.T) {
	s := testutil.StartSSHD(t, testutil.SSHDOptions{})
	d, r := routeTo(t, s)
	s.Stop()
	_, err := d.Dial(context.Background(), r)
	var ce *remote.ConnectError
	if !errors.As(err, &ce) || ce.Stage != "connect" || !strings.Contains(ce.Hint(), fmt.Sprint(s.Port)) {
		t.Fatalf("want a connect error naming the port, got %v", err)
	}
	// The suggested command is one a user can paste: no :port in the destination.
	if want := fmt.Sprintf("(try: ssh -p %d -i %s %s@127.0.0.1 true)", s.Port, s.ClientKeyFile, s.User); !strings.HasSuffix(ce.Hint(), want) {
		t.Errorf("hint %q does not end with %q", ce.Hint(), want)
	}
	s.Restart()
	c, err := d.Dial(context.Background(), r)
	if err != nil {
		t.Fatalf("after Restart: %v", err)
	}
	c.Close()
}

// signalWriter cancels when the remote command says it started.
type signalWriter struct {
	once   sync.Once
	cancel func()
}

func (w *signalWriter) Write(p []byte) (int, error) {
	if bytes.Contains(p, []byte("started")) {
		w.once.Do(w.cancel)
	}
	return len(p), nil
}

func TestRunCancelled(t *testing.T) {
	s := testutil.StartSSHD(t, testutil.SSHDOptions{})
	d, r := routeTo(t, s)
	c, err := d.Dial(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, err = c.Stream(ctx, "echo started; sleep 20", nil, &signalWriter{cancel: cancel}, nil)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("want context.Canceled, got %v", err)
	}
	// The connection still serves the next command.
	if _, err := c.Run(context.Background(), "true", nil); err != nil {
		t.Fatalf("after a cancelled command: %v", err)
	}
}
