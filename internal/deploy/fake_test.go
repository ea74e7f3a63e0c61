package deploy

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/nixctl/nixctl/internal/execx"
	"github.com/nixctl/nixctl/internal/inventory"
	"github.com/nixctl/nixctl/internal/remote"
)

// fakeFleet parses an inventory the way nixctl does.
func fakeFleet(t testing.TB, yaml string) *inventory.Fleet {
	t.Helper()
	f, err := inventory.Parse("nixctl.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	f.Flake, f.Dir = "/fleet", "/fleet"
	return f
}

// fakeHost is a host that answers nixctl's remote commands from memory.
type fakeHost struct {
	mu          sync.Mutex
	lock        string // the lock's info while held
	lastDeploy  string
	generation  int
	commands    []string
	noNix       bool
	sshDown     bool
	healthFails func() bool // for command checks; nil passes
	// dropAfter, when set, makes the first session fail every command
	// after this many (sshd restarted by the activation).
	dropAfter int
	sessions  int
}

func (h *fakeHost) run(cmd string, stdin io.Reader) (*remote.Result, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.commands = append(h.commands, cmd)
	in := ""
	if stdin != nil {
		b, _ := io.ReadAll(stdin)
		in = string(b)
	}
	res := &remote.Result{}
	exit := func(code int, stderr string) (*remote.Result, error) {
		res.ExitCode, res.Stderr = code, []byte(stderr)
		if code == 0 {
			return res, nil
		}
		return res, &remote.ExitError{Command: cmd, ExitCode: code, StderrTail: stderr}
	}
	switch {
	case cmd == "command -v nix >/dev/null":
		if h.noNix {
			return exit(1, "")
		}
	case cmd == "sudo -n true", cmd == "true":
	case strings.Contains(cmd, "deploy.lock/info\" && exit 0"):
		if h.lock != "" && !strings.Contains(cmd, "nixctl \"${NIXCTL_TESTONLY_ROOT:-}\" 1") {
			res.Stdout = []byte(h.lock)
			return exit(lockExitHeld, "")
		}
		h.lock = in
	case strings.Contains(cmd, "last-deploy.json.tmp"):
		h.lock, h.lastDeploy = "", in
	case strings.Contains(cmd, "readlink"):
		res.Stdout = []byte(fmt.Sprintf("system-%d-link\n", h.generation))
	case strings.Contains(cmd, "switch-to-configuration"):
		h.generation--
	default:
		if h.healthFails != nil && h.healthFails() {
			return exit(1, "unhealthy")
		}
	}
	return res, nil
}

func (h *fakeHost) locked() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.lock != ""
}

func (h *fakeHost) record(t *testing.T) LockInfo {
	t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	var li LockInfo
	if err := json.Unmarshal([]byte(h.lastDeploy), &li); err != nil {
		t.Fatalf("no last-deploy record: %q", h.lastDeploy)
	}
	return li
}

// routesIn resolves routes as nixctl does for a user whose home is home
// and who has no ssh configuration.
func routesIn(t testing.TB, home string) *remote.SSH {
	t.Helper()
	s, err := remote.New(remote.Env{Home: home, SystemHome: home, SystemConfig: filepath.Join(home, "no-ssh-config")})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// fakeNet maps addresses to fake hosts.
type fakeNet map[string]*fakeHost

func (n fakeNet) Connect(ctx context.Context, r remote.Route) (remote.Session, error) {
	h, ok := n[r.HostName]
	if !ok || h.sshDown {
		return nil, &remote.ConnectError{Route: r, Stage: "connect", Err: fmt.Errorf("connection refused")}
	}
	h.mu.Lock()
	h.sessions++
	first := h.sessions == 1
	h.mu.Unlock()
	return &fakeSession{h: h, first: first}, nil
}

type fakeSession struct {
	h     *fakeHost
	first bool
	runs  int
}

func (s *fakeSession) Run(ctx context.Context, cmd string, stdin io.Reader) (*remote.Result, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.runs++
	if s.first && s.h.dropAfter > 0 && s.runs > s.h.dropAfter {
		return nil, fmt.Errorf("ssh: connection lost")
	}
	return s.h.run(cmd, stdin)
}

func (s *fakeSession) Close() error { return nil }

// events records stages and results.
type events struct {
	mu     sync.Mutex
	stages map[string][]string
}

func (e *events) Stage(host, stage string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.stages == nil {
		e.stages = map[string][]string{}
	}
	e.stages[host] = append(e.stages[host], stage)
}

func (e *events) Done(string, string, bool) {}
func (e *events) Writer(string) io.Writer   { return io.Discard }
func (e *events) of(host string) []string   { e.mu.Lock(); defer e.mu.Unlock(); return e.stages[host] }

// buildStub answers nix build --json with one entry per installable.
func buildStub(rec *execx.Recorder) {
	rec.RegisterStub(&execx.Stub{Prefix: []string{"nix", "build"}, Func: func(c execx.Cmd) (string, int) {
		var out []string
		for _, a := range c.Argv {
			if strings.Contains(a, "#nixosConfigurations.") {
				out = append(out, fmt.Sprintf(`{"drvPath":"/nix/store/x.drv","outputs":{"out":"/nix/store/%x"}}`, len(a)))
			}
		}
		return "[" + strings.Join(out, ",") + "]", 0
	}})
}

// hostOf finds the host name in a nixos-rebuild argv (--flake /fleet#NAME).
func hostOf(argv []string) string {
	for i, a := range argv {
		if a == "--flake" && i+1 < len(argv) {
			return argv[i+1][strings.Index(argv[i+1], "#")+1:]
		}
	}
	return ""
}
