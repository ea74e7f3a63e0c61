package testutil

import (
	"bufio"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// SSHDOptions shape a test sshd.
type SSHDOptions struct {
	// User is the login user: "" or "root", or a non-root user that is
	// created (locked password, '*') when missing.
	User string
	// ExtraUsers may log in too (non-root ones are created like User), e.g.
	// root to copy store paths and a user to activate a profile as.
	ExtraUsers []string
	// Env is set in every session (sshd's SetEnv), e.g. PATH with a fake
	// sudo in front.
	Env map[string]string
	// HostKey is the server's ed25519 key; nil generates one.
	HostKey ed25519.PrivateKey
	// OwnSystem gives the host a /run and a /nix/var/nix/profiles of its
	// own (so a system profile, /run/current-system and /run/booted-system
	// of its own), besides the /var/lib/nixctl and /run/lock every test
	// host has to itself.
	OwnSystem bool
	// OwnStore gives the host an empty /nix of its own: a store that holds
	// only what is copied to it.
	OwnStore bool
	// Config are extra sshd_config lines, e.g. "PermitOpen inner:2222".
	Config []string
	// Hosts are names that only this sshd resolves (name → address): it runs
	// in a mount namespace of its own with /etc/hosts extended by them, so a
	// host behind it under such a name is reachable only through it.
	Hosts map[string]string
}

// SSHD is a real /usr/sbin/sshd on 127.0.0.1 for one test.
type SSHD struct {
	Addr string // 127.0.0.1:port
	Port int
	// HostKeyPub is the host key as an authorized_keys line (no comment).
	HostKeyPub string
	// HostKey is the server's private host key.
	HostKey ed25519.PrivateKey
	// ClientKeyFile is an unencrypted private key the server accepts.
	ClientKeyFile string
	// KnownHostsFile names the host key for [127.0.0.1]:port.
	KnownHostsFile string
	User           string
	// Dir holds the configuration, keys and the known_hosts file.
	Dir string

	t      testing.TB
	opts   SSHDOptions
	ns     *exec.Cmd // holds the host's mount namespace
	cmd    *exec.Cmd
	done   chan struct{}
	logMu  sync.Mutex
	log    strings.Builder
	config string
}

var userMu sync.Mutex

// StartSSHD starts sshd on a free loopback port with its own ed25519 host
// key and an authorized_keys holding a fresh client key, and stops it when
// the test ends. It needs root (sshd's privilege separation).
//
// Each test sshd is a host of its own: it runs in a private mount namespace
// where /var/lib/nixctl and /run/lock (and with OwnSystem /run and
// /nix/var/nix/profiles) are fresh tmpfs mounts, so parallel tests never
// share nixctl's state on a "host". The namespace outlives sshd (Restart
// keeps the host's state, as a real sshd restart does) and everything
// running in it is killed when the test ends. Tests see the host's files
// under Root().
func StartSSHD(t testing.TB, opts SSHDOptions) *SSHD {
	t.Helper()
	Require(t, "/usr/sbin/sshd", "unshare", "nsenter", "mount")
	if os.Geteuid() != 0 {
		if InCI() {
			t.Fatal("the test sshd needs root; CI runs as root")
		}
		t.Skip("the test sshd needs root (CI=true makes this a failure)")
	}
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		t.Fatalf("sshd privilege separation directory: %v", err)
	}
	user := opts.User
	if user == "" {
		user = "root"
	}
	for _, u := range append([]string{user}, opts.ExtraUsers...) {
		if u != "root" {
			EnsureUser(t, u)
		}
	}
	// Not t.TempDir: a non-root user must be able to read authorized_keys,
	// and TempDir's parent is private to root.
	dir, err := os.MkdirTemp("", "nixctl-sshd-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	s := &SSHD{User: user, Dir: dir, t: t, opts: opts}
	s.HostKey = opts.HostKey
	if s.HostKey == nil {
		s.HostKey = NewEd25519Key(t)
	}
	writeKey(t, filepath.Join(dir, "host_key"), s.HostKey, 0o600)
	s.HostKeyPub = AuthorizedKey(t, s.HostKey.Public())
	client := NewEd25519Key(t)
	s.ClientKeyFile = filepath.Join(dir, "client_key")
	writeKey(t, s.ClientKeyFile, client, 0o600)
	if err := os.WriteFile(filepath.Join(dir, "authorized_keys"), []byte(AuthorizedKey(t, client.Public())+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s.enterNamespace()
	var lastErr error
	for range 5 {
		s.Port = freePort(t)
		s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Port))
		if lastErr = s.start(); lastErr == nil {
			break
		}
	}
	if lastErr != nil {
		t.Fatalf("starting sshd: %v\n%s", lastErr, s.Log())
	}
	s.KnownHostsFile = filepath.Join(dir, "known_hosts")
	line := fmt.Sprintf("[127.0.0.1]:%d %s\n", s.Port, s.HostKeyPub)
	if err := os.WriteFile(s.KnownHostsFile, []byte(line), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("sshd log:\n%s", s.Log())
		}
		s.Stop()
	})
	return s
}

// enterNamespace starts the process that holds the host's mount namespace,
// with its private mounts in place, and stops everything in the namespace
// when the test ends.
func (s *SSHD) enterNamespace() {
	t := s.t
	t.Helper()
	if err := os.MkdirAll("/var/lib/nixctl", 0o755); err != nil {
		t.Fatalf("mount point: %v", err)
	}
	// The host's root logs in without the machine's own ~/.bashrc (bash
	// reads it for every command sshd runs): whatever a developer's shell
	// setup does there (slow version managers, locks) is no part of a test
	// host, and it made every remote command take seconds.
	script := "set -e\nif [ -f /root/.bashrc ]; then mount --bind /dev/null /root/.bashrc; fi\n"
	if s.opts.OwnStore {
		script += "mount -t tmpfs -o mode=0755 tmpfs /nix\nmkdir -p /nix/var/nix/profiles\n"
	}
	if s.opts.OwnSystem {
		script += "mount -t tmpfs -o mode=0755 tmpfs /run\nmkdir -p /run/sshd /run/lock\n" +
			"mount -t tmpfs -o mode=0755 tmpfs /nix/var/nix/profiles\n"
	}
	script += "mount -t tmpfs -o mode=1777 tmpfs /run/lock\nmount -t tmpfs -o mode=0755 tmpfs /var/lib/nixctl\n"
	args := []string{"--mount", "--propagation", "private", "sh", "-c"}
	if len(s.opts.Hosts) > 0 {
		script += "mount --bind \"$1\" /etc/hosts\n"
	}
	script += "echo ready\nexec sleep infinity\n"
	args = append(args, script, "host")
	if len(s.opts.Hosts) > 0 {
		args = append(args, s.hostsFile())
	}
	cmd := exec.Command("unshare", args...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("unshare: %v", err)
	}
	line, _ := bufio.NewReader(out).ReadString('\n')
	if line != "ready\n" {
		_ = cmd.Wait()
		t.Fatalf("the test host's mount namespace: %s", stderr.String())
	}
	s.ns = cmd
	t.Cleanup(s.killNamespace)
}

// Root is the host's file system as its processes see it (through
// /proc/PID/root of the namespace's holder): Root()+"/var/lib/nixctl" is the
// host's state directory.
func (s *SSHD) Root() string {
	return fmt.Sprintf("/proc/%d/root", s.ns.Process.Pid)
}

// InHost is the argv that runs argv inside the host's mount namespace.
func (s *SSHD) InHost(argv ...string) []string {
	return append([]string{"nsenter", fmt.Sprintf("--mount=/proc/%d/ns/mnt", s.ns.Process.Pid), "--"}, argv...)
}

// killNamespace kills every process in the host's mount namespace (what
// sessions left running, such as a detached watchdog), then its holder.
func (s *SSHD) killNamespace() {
	s.Stop()
	self := fmt.Sprintf("/proc/%d/ns/mnt", s.ns.Process.Pid)
	ns, err := os.Readlink(self)
	if err == nil {
		entries, _ := os.ReadDir("/proc")
		for _, e := range entries {
			pid, err := strconv.Atoi(e.Name())
			if err != nil || pid == s.ns.Process.Pid {
				continue
			}
			if l, err := os.Readlink(filepath.Join("/proc", e.Name(), "ns/mnt")); err == nil && l == ns {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}
	_ = s.ns.Process.Kill()
	_ = s.ns.Wait()
}

func (s *SSHD) writeConfig() {
	var b strings.Builder
	fmt.Fprintf(&b, "Port %d\nListenAddress 127.0.0.1\n", s.Port)
	fmt.Fprintf(&b, "HostKey %s\nPidFile %s\nAuthorizedKeysFile %s\n",
		filepath.Join(s.Dir, "host_key"), filepath.Join(s.Dir, "sshd.pid"), filepath.Join(s.Dir, "authorized_keys"))
	b.WriteString("PermitRootLogin prohibit-password\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n")
	b.WriteString("UsePAM no\nStrictModes no\nLogLevel VERBOSE\n")
	fmt.Fprintf(&b, "AllowUsers %s\n", strings.Join(append([]string{s.User}, s.opts.ExtraUsers...), " "))
	if len(s.opts.Env) > 0 {
		keys := make([]string, 0, len(s.opts.Env))
		for k := range s.opts.Env {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b.WriteString("SetEnv")
		for _, k := range keys {
			fmt.Fprintf(&b, " %q", k+"="+s.opts.Env[k])
		}
		b.WriteString("\n")
	}
	for _, l := range s.opts.Config {
		b.WriteString(l + "\n")
	}
	s.config = filepath.Join(s.Dir, "sshd_config")
	if err := os.WriteFile(s.config, []byte(b.String()), 0o644); err != nil {
		s.t.Fatal(err)
	}
}

// start runs sshd -D and waits for "Server listening".
func (s *SSHD) start() error {
	s.writeConfig()
	argv := s.InHost("/usr/sbin/sshd", "-D", "-e", "-f", s.config)
	cmd := exec.Command(argv[0], argv[1:]...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	ready := make(chan bool, 1)
	s.done = make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		signalled := false
		for sc.Scan() {
			line := sc.Text()
			s.logMu.Lock()
			s.log.WriteString(line + "\n")
			s.logMu.Unlock()
			if !signalled && strings.Contains(line, "Server listening on") {
				ready <- true
				signalled = true
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
		if !signalled {
			ready <- false
		}
	}()
	go func() {
		_ = cmd.Wait()
		close(s.done)
	}()
	// sshd says it listens or exits; the deadline only guards a broken sshd.
	select {
	case ok := <-ready:
		if ok {
			s.cmd = cmd
			return nil
		}
		<-s.done
		return fmt.Errorf("sshd exited: %s", lastLines(s.Log(), 3))
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		<-s.done
		return fmt.Errorf("sshd did not start listening")
	}
}

// hostsFile is /etc/hosts extended by opts.Hosts, which the host's mount
// namespace binds over its /etc/hosts.
func (s *SSHD) hostsFile() string {
	etc, err := os.ReadFile("/etc/hosts")
	if err != nil {
		s.t.Fatal(err)
	}
	names := make([]string, 0, len(s.opts.Hosts))
	for n := range s.opts.Hosts {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	b.Write(etc)
	for _, n := range names {
		fmt.Fprintf(&b, "\n%s %s\n", s.opts.Hosts[n], n)
	}
	hosts := filepath.Join(s.Dir, "hosts")
	if err := os.WriteFile(hosts, []byte(b.String()), 0o644); err != nil {
		s.t.Fatal(err)
	}
	return hosts
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "; ")
}

// Log is what sshd printed so far.
func (s *SSHD) Log() string {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	return s.log.String()
}

// Stop stops sshd; open sessions keep their own processes until they end.
func (s *SSHD) Stop() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.done
	s.cmd = nil
}

// Kill ends sshd the hard way, as a crash or an OOM kill would: the listener
// and every process serving a connection (and what they started) get
// SIGKILL, so open sessions drop at once. Restart brings it back.
func (s *SSHD) Kill() {
	if s.cmd == nil {
		return
	}
	for _, pid := range descendants(s.cmd.Process.Pid) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	s.Stop()
}

// descendants lists the processes started, directly or not, by pid.
func descendants(pid int) []int {
	children := map[int][]int{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid …: comm may hold spaces, so cut at the last ')'.
		fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
		if len(fields) < 2 {
			continue
		}
		if ppid, err := strconv.Atoi(fields[1]); err == nil {
			children[ppid] = append(children[ppid], p)
		}
	}
	var out []int
	queue := []int{pid}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, c := range children[p] {
			out = append(out, c)
			queue = append(queue, c)
		}
	}
	return out
}

// Restart starts sshd again on the same port with the same keys (after Stop,
// or to pick up a new HostKey set with SetHostKey).
func (s *SSHD) Restart() {
	s.t.Helper()
	s.Stop()
	if err := s.start(); err != nil {
		s.t.Fatalf("restarting sshd: %v\n%s", err, s.Log())
	}
}

// SetHostKey replaces the server's host key (a "reinstalled" host) and
// restarts it; KnownHostsFile keeps the old key.
func (s *SSHD) SetHostKey(key ed25519.PrivateKey) {
	s.t.Helper()
	s.HostKey = key
	writeKey(s.t, filepath.Join(s.Dir, "host_key"), key, 0o600)
	s.HostKeyPub = AuthorizedKey(s.t, key.Public())
	s.Restart()
}

// NewEd25519Key generates a key pair.
func NewEd25519Key(t testing.TB) ed25519.PrivateKey {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return priv
}

// AuthorizedKey renders a public key as "ssh-ed25519 AAAA…".
func AuthorizedKey(t testing.TB, pub any) string {
	t.Helper()
	k, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k)))
}

func writeKey(t testing.TB, path string, key ed25519.PrivateKey, mode os.FileMode) {
	t.Helper()
	block, err := ssh.MarshalPrivateKey(key, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(block), mode); err != nil {
		t.Fatal(err)
	}
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// EnsureUser creates a local user that can log in with a key only (password
// '*': Debian creates users locked, and sshd with UsePAM no refuses those).
func EnsureUser(t testing.TB, name string) {
	t.Helper()
	userMu.Lock()
	defer userMu.Unlock()
	Require(t, "useradd", "usermod")
	var out []byte
	var err error
	// Another test process may be writing /etc/passwd at the same time.
	for range 10 {
		if exec.Command("id", "-u", name).Run() != nil {
			out, err = exec.Command("useradd", "-m", "-s", "/bin/sh", name).CombinedOutput()
			if err != nil && exec.Command("id", "-u", name).Run() != nil {
				time.Sleep(100 * time.Millisecond)
				continue
			}
		}
		out, err = exec.Command("usermod", "-p", "*", name).CombinedOutput()
		if err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("creating user %s: %v: %s", name, err, out)
}
