package remote_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nixctl/nixctl/internal/remote"
	"github.com/nixctl/nixctl/internal/testutil"
)

const innerName = testutil.InnerName

// jumpPair starts the inner host and the jump host in front of it, and
// writes a home whose ~/.ssh/config names them "inner" and "bastion".
func jumpPair(t *testing.T) (inner, jump *testutil.SSHD, home string) {
	t.Helper()
	inner, jump = testutil.StartBehindJump(t, testutil.SSHDOptions{})
	home = t.TempDir()
	kh := filepath.Join(home, ".ssh", "known_hosts")
	testutil.WriteFiles(t, home, map[string]string{
		".ssh/known_hosts": testutil.JumpKnownHosts(inner, jump),
		".ssh/config":      testutil.JumpSSHConfig(inner, jump, "inner", kh),
	})
	return inner, jump, home
}

func TestProxyJump(t *testing.T) {
	inner, _, home := jumpPair(t)
	c, err := remote.New(remote.Env{Home: home, SystemHome: remote.PasswdHome(), SystemConfig: filepath.Join(home, "none")})
	if err != nil {
		t.Fatal(err)
	}
	r, err := c.Route(remote.Spec{Host: "inner"})
	if err != nil {
		t.Fatal(err)
	}
	if r.Jump == nil || r.Jump.Name != "bastion" {
		t.Fatalf("route %s has no jump through bastion", r)
	}
	cl, err := c.Dial(context.Background(), r)
	if err != nil {
		t.Fatalf("dial through the jump host: %v", err)
	}
	res, err := cl.Run(context.Background(), "cat "+filepath.Join(inner.Dir, "authorized_keys"), nil)
	cl.Close()
	if err != nil || !strings.HasPrefix(string(res.Stdout), "ssh-ed25519 ") {
		t.Fatalf("on the inner host: %q, %v", res.Stdout, err)
	}

	// The system ssh, given the route's argv as written, arrives too.
	testutil.Require(t, "ssh")
	argv := r.Command("echo", "arrived")
	out, err := exec.Command(argv[0], argv[1:]...).Output()
	if err != nil || strings.TrimSpace(string(out)) != "arrived" {
		t.Fatalf("%s: %v\n%s", strings.Join(argv, " "), err, out)
	}

	keys, err := c.FetchHostKeys(context.Background(), r)
	if err != nil || len(keys) != 1 || !keys[0].Known || keys[0].AuthorizedKey != inner.HostKeyPub {
		t.Fatalf("host keys through the jump: %+v, %v", keys, err)
	}
}

// Each hop's host key is checked: a wrong key for the jump host stops the
// connection there, a wrong one for the inner host after the jump.
func TestProxyJumpChecksEveryHostKey(t *testing.T) {
	inner, jump, home := jumpPair(t)
	kh := filepath.Join(home, ".ssh", "known_hosts")
	other := testutil.AuthorizedKey(t, testutil.NewEd25519Key(t).Public())
	for _, tc := range []struct {
		name, known, host string
	}{
		{"jump host", fmt.Sprintf("[127.0.0.1]:%d %s\n[%s]:%d %s\n", jump.Port, other, innerName, inner.Port, inner.HostKeyPub), fmt.Sprintf("[127.0.0.1]:%d", jump.Port)},
		{"inner host", fmt.Sprintf("[127.0.0.1]:%d %s\n[%s]:%d %s\n", jump.Port, jump.HostKeyPub, innerName, inner.Port, other), fmt.Sprintf("[%s]:%d", innerName, inner.Port)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := os.WriteFile(kh, []byte(tc.known), 0o644); err != nil {
				t.Fatal(err)
			}
			c, err := remote.New(remote.Env{Home: home, SystemHome: home, SystemConfig: filepath.Join(home, "none")})
			if err != nil {
				t.Fatal(err)
			}
			r, err := c.Route(remote.Spec{Host: "inner"})
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.Dial(context.Background(), r)
			var hk *remote.HostKeyError
			if !errors.As(err, &hk) || hk.Kind != remote.HostKeyChanged || hk.Host != tc.host {
				t.Fatalf("want a changed key for %s, got %v", tc.host, err)
			}
		})
	}
}
