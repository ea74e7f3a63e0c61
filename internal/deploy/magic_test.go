package deploy

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nixctl/nixctl/internal/execx"
	"github.com/nixctl/nixctl/internal/fault"
)

// A host whose watchdog acted before nixctl's confirmation got there: the
// result says so, with the generation it went back to, and exits 6.
func TestMagicRollbackRolledBackByHost(t *testing.T) {
	t.Parallel()
	r := newRun(t, "hosts:\n  - {name: web, address: 10.0.0.5}\n")
	r.host("web").current = "/nix/store/old-system"
	r.host("web").firesFirst = true
	buildStub(r.rec)
	r.rec.RegisterStub(&execx.Stub{Prefix: []string{"nixos-rebuild", "switch"}, Func: func(execx.Cmd) (string, int) {
		h := r.host("web")
		h.mu.Lock()
		h.generation, h.current = 8, "/nix/store/new-system"
		h.mu.Unlock()
		return "", 0
	}})
	rep := r.exec(t, context.Background())
	web := result(t, rep, "web")
	if web.Result != ResultRolledBackByHost || web.Stage != StageConfirm || web.Generation != 7 ||
		!strings.Contains(web.Error, "went back by itself to generation 7 (/nix/store/old-system)") || !strings.Contains(web.Hint, "does not let nixctl in") {
		t.Fatalf("web: %+v", web)
	}
	if rep.Kind() != fault.RolledBack {
		t.Errorf("kind %v, want %v", rep.Kind(), fault.RolledBack)
	}
	if rec := r.host("web").record(t); rec.Result != ResultRolledBackByHost || r.host("web").locked() {
		t.Errorf("record %+v, locked %v", rec, r.host("web").locked())
	}
}

// A host that cannot be reached after the activation, nor afterwards: the
// message says what its watchdog was set to do, and when.
func TestMagicRollbackUnreachable(t *testing.T) {
	t.Parallel()
	r := newRun(t, "hosts:\n  - {name: web, address: 10.0.0.5, confirmTimeout: 50ms}\n")
	r.opts.ReturnWait = 100 * time.Millisecond
	buildStub(r.rec)
	r.rec.RegisterStub(&execx.Stub{Prefix: []string{"nixos-rebuild", "switch"}, Func: func(execx.Cmd) (string, int) {
		r.host("web").sshDown = true
		return "", 0
	}})
	rep := r.exec(t, context.Background())
	web := result(t, rep, "web")
	if web.Result != ResultUnreachable || !strings.Contains(web.Error, "its watchdog was set to switch back to generation 7 at about ") ||
		!strings.Contains(web.Error, "connection refused") || !strings.Contains(web.Hint, "nixctl status web") {
		t.Fatalf("web: %+v", web)
	}
	if rep.Kind() != fault.AllFailed {
		t.Errorf("kind %v", rep.Kind())
	}
	if got := r.host("web").ran(); !slices.Contains(got, "arm switch 7 50ms") {
		t.Errorf("ops %q", got)
	}
}

// --no-magic-rollback, magicRollback: false, and actions that change no
// running system arm nothing; test arms a watchdog that re-activates.
func TestMagicRollbackOnlyWhereAsked(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		yaml, action string
		off          bool
		want         string
	}{
		{"hosts:\n  - {name: web, address: 10.0.0.5}\n", "switch", true, ""},
		{"hosts:\n  - {name: web, address: 10.0.0.5, magicRollback: false}\n", "switch", false, ""},
		{"defaults: {magicRollback: false}\nhosts:\n  - {name: web, address: 10.0.0.5}\n", "test", false, ""},
		{"hosts:\n  - {name: web, address: 10.0.0.5}\n", "boot", false, ""},
		{"hosts:\n  - {name: web, address: 10.0.0.5}\n", "test", false, "arm test 7 30s"},
		{"defaults: {confirmTimeout: 2m}\nhosts:\n  - {name: web, address: 10.0.0.5}\n", "switch", false, "arm switch 7 2m0s"},
	} {
		r := newRun(t, c.yaml)
		r.opts.Action, r.opts.NoMagicRollback = c.action, c.off
		buildStub(r.rec)
		r.rec.Register([]string{"nixos-rebuild", c.action}, "", 0)
		if rep := r.exec(t, context.Background()); rep.Kind() != fault.OK {
			t.Fatalf("%s: %+v", c.yaml, rep.Hosts)
		}
		var arms []string
		for _, op := range r.host("web").ran() {
			if strings.Contains(op, "arm ") || strings.HasPrefix(op, "confirm") {
				arms = append(arms, op)
			}
		}
		if c.want == "" && len(arms) != 0 || c.want != "" && (len(arms) != 2 || arms[0] != c.want) {
			t.Errorf("%s %s (off %v): %q, want %q", c.yaml, c.action, c.off, arms, c.want)
		}
	}
}
