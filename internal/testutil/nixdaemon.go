package testutil

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// NixDaemonSocket is where nix-daemon listens and NIX_REMOTE=daemon looks.
const NixDaemonSocket = "/nix/var/nix/daemon-socket/socket"

// daemonLock serialises "is one serving? else start one" between test
// processes: a second nix-daemon would replace the first one's socket.
const daemonLock = "/tmp/nixctl-test-nix-daemon.lock"

var daemon struct {
	sync.Mutex
	users int
	cmd   *exec.Cmd
	done  chan struct{}
}

// NixDaemon makes sure a nix-daemon serves NixDaemonSocket for the rest of
// the test, as on a multi-user Nix: one already served by another process is
// used and left alone; otherwise one is started as root in the background
// and stopped by its pid when the last test of this process using it ends.
func NixDaemon(t testing.TB) {
	t.Helper()
	Require(t, "nix-daemon")
	requireRoot(t, "nix-daemon runs as root")
	daemon.Lock()
	defer daemon.Unlock()
	if daemon.cmd == nil {
		if err := startDaemonUnlessServed(); err != nil {
			t.Fatal(err)
		}
	}
	daemon.users++
	t.Cleanup(releaseDaemon)
}

func releaseDaemon() {
	daemon.Lock()
	defer daemon.Unlock()
	daemon.users--
	if daemon.users > 0 || daemon.cmd == nil {
		return
	}
	_ = daemon.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-daemon.done:
	case <-time.After(5 * time.Second):
		_ = daemon.cmd.Process.Kill()
		<-daemon.done
	}
	daemon.cmd = nil
}

// startDaemonUnlessServed starts nix-daemon when nobody serves the socket;
// daemon.cmd stays nil when someone else does.
func startDaemonUnlessServed() error {
	lock, err := os.OpenFile(daemonLock, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return fmt.Errorf("nix-daemon lock: %w", err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("nix-daemon lock: %w", err)
	}
	defer func() { _ = syscall.Flock(int(lock.Fd()), syscall.LOCK_UN) }()
	if served() {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(NixDaemonSocket), 0o755); err != nil {
		return err
	}
	log := &lockedWriter{}
	cmd := exec.Command("nix-daemon")
	cmd.Stdout, cmd.Stderr = log, log
	// Its own process group: a ^C to the test run is the test's to handle.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting nix-daemon: %w", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		select {
		case <-done:
			return fmt.Errorf("nix-daemon exited: %s", log.String())
		case <-time.After(20 * time.Millisecond):
		}
		if served() {
			daemon.cmd, daemon.done = cmd, done
			return nil
		}
	}
	_ = cmd.Process.Kill()
	<-done
	return fmt.Errorf("nix-daemon did not listen on %s within 10s: %s", NixDaemonSocket, log.String())
}

func served() bool {
	c, err := net.DialTimeout("unix", NixDaemonSocket, time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// lockedWriter keeps a child's output for an error message.
type lockedWriter struct {
	mu sync.Mutex
	b  strings.Builder
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *lockedWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}
