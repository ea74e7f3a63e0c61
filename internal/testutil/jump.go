package testutil

import (
	"fmt"
	"net"
	"testing"
)

// InnerName is the name of the host behind a jump host: only the jump
// host's sshd resolves it.
const InnerName = "nixctl-inner.test"

// StartBehindJump starts an sshd (with inner's options) and a jump host in
// front of it that forwards to InnerName:port and nowhere else. The inner
// host is reachable through the jump host and in no other way: its name
// resolves nowhere else, which the function checks.
func StartBehindJump(t testing.TB, inner SSHDOptions) (in, jump *SSHD) {
	t.Helper()
	in = StartSSHD(t, inner)
	jump = StartSSHD(t, SSHDOptions{
		Hosts:  map[string]string{InnerName: "127.0.0.1"},
		Config: []string{"AllowTcpForwarding yes", fmt.Sprintf("PermitOpen %s:%d", InnerName, in.Port)},
	})
	if _, err := net.LookupHost(InnerName); err == nil {
		t.Fatalf("%s resolves here: the inner host would be reachable without the jump", InnerName)
	}
	return in, jump
}

// JumpKnownHosts is a known_hosts file's content for both hosts.
func JumpKnownHosts(in, jump *SSHD) string {
	return fmt.Sprintf("[127.0.0.1]:%d %s\n[%s]:%d %s\n", jump.Port, jump.HostKeyPub, InnerName, in.Port, in.HostKeyPub)
}

// JumpSSHConfig is an ~/.ssh/config that names the inner host alias and the
// jump host "bastion", with known_hosts at knownHosts. The paths are
// absolute: the ssh that the system ssh runs for the jump takes ~ from the
// password database, not from HOME.
func JumpSSHConfig(in, jump *SSHD, alias, knownHosts string) string {
	return fmt.Sprintf(`Host %s
  HostName %s
  Port %d
  IdentityFile %s
  ProxyJump bastion

Host bastion
  HostName 127.0.0.1
  Port %d
  IdentityFile %s

Host *
  User root
  UserKnownHostsFile %s
  BatchMode yes
`, alias, InnerName, in.Port, in.ClientKeyFile, jump.Port, jump.ClientKeyFile, knownHosts)
}
