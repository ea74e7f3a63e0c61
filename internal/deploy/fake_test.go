package deploy

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/nixctl/nixctl/internal/execx"
	"github.com/nixctl/nixctl/internal/hostops"
	"github.com/nixctl/nixctl/internal/inventory"
	"github.com/nixctl/nixctl/internal/nix"
	"github.com/nixctl/nixctl/internal/remote"
	"github.com/nixctl/nixctl/internal/testutil"
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

// fakeHost is a host that answers nixctl's host operations from memory.
type fakeHost struct {
	mu         sync.Mutex
	lock       string // the lock's info while held
	lastDeploy string
	generation int
	// ops lists the operations run, "sudo " in front of those run through
	// sudo -n.
	ops         []string
	noNix       bool
	sshDown     bool
	healthFails func() bool // for command checks; nil passes
	// dropAfter, when set, makes the first session fail every operation
	// after this many (sshd restarted by the activation).
	dropAfter int
	sessions  int
	// current is /run/current-system; armed the watchdog while pending.
	current string
	armed   *hostops.Watchdog
	// profile is the system profile's target (what the host boots).
	profile string
	// firesFirst: the host's watchdog rolls back before any confirmation
	// can reach it.
	firesFirst bool
}

// fakeChecks are the health check commands a fake host knows; any other
// is an error, so a check nixctl runs by mistake cannot pass.
var fakeChecks = map[string]bool{"systemctl is-active app": true, "true": true}

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

func (h *fakeHost) locked() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.lock != ""
}

func (h *fakeHost) ran() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.ops...)
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

func (n fakeNet) Connect(ctx context.Context, r remote.Route, sudo bool) (hostops.System, error) {
	h, ok := n[r.HostName]
	if !ok || h.sshDown {
		return nil, &remote.ConnectError{Route: r, Stage: "connect", Err: fmt.Errorf("connection refused")}
	}
	h.mu.Lock()
	h.sessions++
	first := h.sessions == 1
	h.mu.Unlock()
	return &fakeSession{h: h, first: first, sudo: sudo, id: h.sessions}, nil
}

// fakeSession is one connection to a fake host.
type fakeSession struct {
	h     *fakeHost
	first bool
	sudo  bool
	runs  int
	id    int // which connection to the host, from 1
}

// op records an operation and locks the host for its answer; the caller
// unlocks.
func (s *fakeSession) op(ctx context.Context, name string, elevated bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.runs++
	if s.first && s.h.dropAfter > 0 && s.runs > s.h.dropAfter {
		return fmt.Errorf("ssh: connection lost")
	}
	s.h.mu.Lock()
	if elevated && s.sudo {
		name = "sudo " + name
	}
	s.h.ops = append(s.h.ops, name)
	return nil
}

func (s *fakeSession) Preflight(ctx context.Context, sudo bool) error {
	if err := s.op(ctx, "preflight", false); err != nil {
		return err
	}
	defer s.h.mu.Unlock()
	if s.h.noNix {
		return hostops.ErrNoNix
	}
	return nil
}

func (s *fakeSession) AcquireDeployLock(ctx context.Context, info LockInfo, breakLock bool) error {
	if err := s.op(ctx, "acquire", true); err != nil {
		return err
	}
	defer s.h.mu.Unlock()
	if s.h.lock != "" && !breakLock {
		held := &hostops.LockHeldError{Raw: s.h.lock}
		_ = json.Unmarshal([]byte(s.h.lock), &held.Info)
		return held
	}
	data, _ := json.Marshal(info)
	s.h.lock = string(data)
	return nil
}

func (s *fakeSession) ReleaseDeployLock(ctx context.Context, record LockInfo) error {
	if err := s.op(ctx, "release", true); err != nil {
		return err
	}
	defer s.h.mu.Unlock()
	if !strings.Contains(s.h.lock, record.RunID) {
		return nil
	}
	data, _ := json.Marshal(record)
	s.h.lock, s.h.lastDeploy = "", string(data)
	return nil
}

func (s *fakeSession) Generation(ctx context.Context) (int, error) {
	if err := s.op(ctx, "generation", false); err != nil {
		return 0, err
	}
	defer s.h.mu.Unlock()
	return s.h.generation, nil
}

func (s *fakeSession) SwitchGeneration(ctx context.Context, n int) error {
	if err := s.op(ctx, fmt.Sprintf("switch-generation %d", n), true); err != nil {
		return err
	}
	defer s.h.mu.Unlock()
	s.h.generation = n
	return nil
}

func (s *fakeSession) Reactivate(ctx context.Context) error {
	if err := s.op(ctx, "reactivate", true); err != nil {
		return err
	}
	s.h.mu.Unlock()
	return nil
}

func (s *fakeSession) Status(ctx context.Context) (hostops.Status, error) {
	if err := s.op(ctx, "status", false); err != nil {
		return hostops.Status{}, err
	}
	defer s.h.mu.Unlock()
	return hostops.Status{Generation: s.h.generation, Current: s.h.current, Profile: s.h.profile}, nil
}

func (s *fakeSession) ClosureDiff(ctx context.Context, old, new string) (string, []byte, error) {
	if err := s.op(ctx, "closure-diff "+old+" "+new, false); err != nil {
		return "", nil, err
	}
	s.h.mu.Unlock()
	return "", nil, errors.New("the fake host keeps no store")
}

func (s *fakeSession) ArmWatchdog(ctx context.Context, w hostops.Watchdog) error {
	if err := s.op(ctx, fmt.Sprintf("arm %s %d %s", w.Action, w.Generation, w.Confirm), true); err != nil {
		return err
	}
	defer s.h.mu.Unlock()
	if s.h.armed != nil {
		return &hostops.WatchdogPendingError{Pending: hostops.PendingWatchdog{RunID: s.h.armed.RunID}}
	}
	s.h.armed = &w
	return nil
}

func (s *fakeSession) ConfirmWatchdog(ctx context.Context, runID string) error {
	if err := s.op(ctx, fmt.Sprintf("confirm on connection %d", s.id), true); err != nil {
		return err
	}
	defer s.h.mu.Unlock()
	w := s.h.armed
	if w == nil || w.RunID != runID {
		return fmt.Errorf("no watchdog of run %s", runID)
	}
	s.h.armed = nil
	if s.h.firesFirst {
		s.h.generation, s.h.current = w.Generation, w.System
		return hostops.ErrRolledBackByHost
	}
	return nil
}

func (s *fakeSession) Ping(ctx context.Context) error {
	if err := s.op(ctx, "ping", false); err != nil {
		return err
	}
	s.h.mu.Unlock()
	return nil
}

func (s *fakeSession) RunCheck(ctx context.Context, command string) error {
	if err := s.op(ctx, "check "+command, false); err != nil {
		return err
	}
	fails := s.h.healthFails
	s.h.mu.Unlock()
	if !fakeChecks[command] {
		return fmt.Errorf("fake host: unknown command %q", command)
	}
	if fails != nil && fails() {
		return errors.New("unhealthy")
	}
	return nil
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

// systemOf is what the fake flake evaluates host name's toplevel to.
func systemOf(name string) (drv, out string) {
	sum := sha256.Sum256([]byte(name))
	h := hex.EncodeToString(sum[:])
	return "/nix/store/" + h[32:] + "-nixos-system-" + name + ".drv", "/nix/store/" + h[:32] + "-nixos-system-" + name
}

var builtNameRe = regexp.MustCompile(`#nixosConfigurations\.([A-Za-z0-9_'-]+)\.|-nixos-system-([A-Za-z0-9_'-]+)\.drv`)

// buildStub is nix as the fake flake answers it: the evaluation of many
// hosts, nix --version, and nix build --json of flake attributes or of the
// derivations the evaluation gave, one result per installable.
func buildStub(rec *execx.Recorder) { buildStubOf(rec, systemOf) }

// buildStubOf is buildStub for a flake whose hosts evaluate to systems.
func buildStubOf(rec *execx.Recorder, systems func(name string) (drv, out string)) {
	var mu sync.Mutex
	names := map[string]string{} // drv → host
	eval := testutil.EvalStubFunc(func(name string) (testutil.EvalAnswer, bool) {
		drv, out := systems(name)
		mu.Lock()
		names[drv] = name
		mu.Unlock()
		return testutil.EvalAnswer{DrvPath: drv, OutPath: out}, true
	})
	// One stub, so a run that needs no evaluation (one host, or a host the
	// check stage evaluated) leaves none of it unused.
	rec.RegisterStub(&execx.Stub{Prefix: []string{"nix"}, Func: func(c execx.Cmd) (string, int) {
		switch {
		case hasPrefix(c.Argv, eval.Prefix):
			return eval.Func(c)
		case hasPrefix(c.Argv, nix.Version()):
			return "nix (Nix) 2.8.0\n", 0
		case len(c.Argv) < 2 || c.Argv[1] != "build":
			return "fake nix: unknown command " + strings.Join(c.Argv, " "), 1
		}
		var out []string
		for _, a := range c.Argv {
			mu.Lock()
			name, ok := names[strings.TrimSuffix(a, "^*")]
			mu.Unlock()
			if m := builtNameRe.FindStringSubmatch(a); !ok && m != nil {
				name, ok = m[1]+m[2], true
			}
			if ok {
				drv, o := systems(name)
				out = append(out, fmt.Sprintf(`{"drvPath":%q,"outputs":{"out":%q}}`, drv, o))
			}
		}
		return "[" + strings.Join(out, ",") + "]", 0
	}})
}

func hasPrefix(argv, prefix []string) bool {
	return len(argv) >= len(prefix) && slices.Equal(argv[:len(prefix)], prefix)
}

// activating runs commands with a runner and does on the fake hosts what a
// successful nixos-rebuild activation does there: the host then runs (and
// boots) the system given by --store-path, or else what the flake
// evaluates to when nixos-rebuild evaluates it again (evaluates; systemOf
// when nil: the tree did not change during the run).
type activating struct {
	execx.Runner
	net       fakeNet
	evaluates func(name string) string
}

func (a activating) Run(ctx context.Context, c execx.Cmd) (*execx.Result, error) {
	res, err := a.Runner.Run(ctx, c)
	action, system, target := activated(c.Argv, a.evaluates)
	if err != nil || action == "" {
		return res, err
	}
	if h, ok := a.net[target[strings.LastIndex(target, "@")+1:]]; ok {
		h.mu.Lock()
		if action != "boot" {
			h.current = system
		}
		if action != "test" {
			h.profile = system
		}
		h.mu.Unlock()
	}
	return res, err
}

// activated reads a nixos-rebuild argv that activates a system on a
// target: the action, the system (--store-path's, or else what the flake
// evaluates to: evaluates, or systemOf when nil) and the target; action is
// "" for any other command.
func activated(argv []string, evaluates func(string) string) (action, system, target string) {
	if len(argv) < 2 || argv[0] != "nixos-rebuild" || slices.Contains(argv, "--rollback") || !slices.Contains([]string{"switch", "test", "boot"}, argv[1]) {
		return "", "", ""
	}
	for i := 0; i+1 < len(argv); i++ {
		switch argv[i] {
		case "--store-path":
			system = argv[i+1]
		case "--target-host":
			target = argv[i+1]
		}
	}
	switch {
	case system != "":
	case evaluates != nil:
		system = evaluates(hostOf(argv))
	default:
		_, system = systemOf(hostOf(argv))
	}
	return argv[1], system, target
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
