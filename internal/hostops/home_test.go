package hostops

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nixctl/nixctl/internal/testutil"
)

// storeGeneration adds a Home Manager generation to the real store: its
// activate script appends its name and HOME_MANAGER_BACKUP_EXT to
// ~/activated (or fails when fail is set), and home-files holds .zshrc.
func storeGeneration(t *testing.T, name string, fail bool) string {
	t.Helper()
	testutil.Require(t, "nix-store")
	dir := filepath.Join(t.TempDir(), name)
	act := "#!/bin/sh\necho \"" + name + " ${HOME_MANAGER_BACKUP_EXT:-}\" >>\"$HOME/activated\"\n"
	if fail {
		act += "exit 1\n"
	}
	testutil.WriteFiles(t, dir, map[string]string{"activate": act, "home-files/.zshrc": "# " + name + "\n"})
	if err := os.Chmod(filepath.Join(dir, "activate"), 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("nix-store", "--add", dir).Output()
	if err != nil {
		t.Fatalf("nix-store --add: %v", err)
	}
	return strings.TrimSpace(string(out))
}

func activated(t *testing.T, root string) string {
	t.Helper()
	data, _ := os.ReadFile(filepath.Join(root, "home/activated"))
	return string(data)
}

func TestHomeActivateUnderTheLock(t *testing.T) {
	testutil.Require(t, "flock")
	ctx := context.Background()
	h, root := newLocalHost(t)
	if err := os.MkdirAll(filepath.Join(root, "run/lock"), 0o1777); err != nil {
		t.Fatal(err)
	}
	gen := storeGeneration(t, "gen-a", false)
	if err := h.ActivateHome(ctx, gen, "bak", time.Second, nil); err != nil {
		t.Fatal(err)
	}
	if got := activated(t, root); got != "gen-a bak\n" {
		t.Errorf("activations %q", got)
	}
	if _, err := os.Stat(filepath.Join(root, "run/lock/nixctl")); err != nil {
		t.Errorf("the lock directory is made under the root: %v", err)
	}

	// Another activation holds the lock past the wait.
	release := holdFlock(t, filepath.Join(root, "run/lock/nixctl"))
	var lw *LockWaitError
	if err := h.ActivateHome(ctx, gen, "", 0, nil); !errors.As(err, &lw) {
		t.Errorf("lock held: %v", err)
	}
	release()

	// A deploy holds the host: refused, its record read.
	testutil.WriteFiles(t, root, map[string]string{"var/lib/nixctl/deploy.lock/info": `{"runId":"r42","who":"gabriel@laptop","action":"switch"}`})
	var de *DeployingError
	if err := h.ActivateHome(ctx, gen, "", time.Second, nil); !errors.As(err, &de) || de.Info.Who != "gabriel@laptop" || de.Info.RunID != "r42" {
		t.Errorf("during a deploy: %v", err)
	}
	if got := activated(t, root); got != "gen-a bak\n" {
		t.Errorf("activated while refused: %q", got)
	}
	_ = os.RemoveAll(filepath.Join(root, "var/lib/nixctl/deploy.lock"))

	// A generation that is not there.
	if err := h.ActivateHome(ctx, "/nix/store/00000000000000000000000000000000-missing", "", time.Second, nil); !errors.Is(err, ErrNoGeneration) {
		t.Errorf("missing generation: %v", err)
	}
	if err := h.ActivateHome(ctx, "/etc", "", time.Second, nil); err == nil {
		t.Error("a path outside the store must be refused")
	}
}

func TestHomeClobbers(t *testing.T) {
	h, root := newLocalHost(t)
	gen := storeGeneration(t, "gen-c", false)
	if files, err := h.Clobbers(context.Background(), gen, ""); err != nil || len(files) != 0 {
		t.Fatalf("nothing in the way: %v %v", files, err)
	}
	testutil.WriteFiles(t, filepath.Join(root, "home"), map[string]string{".zshrc": "mine\n"})
	files, err := h.Clobbers(context.Background(), gen, "")
	want := filepath.Join(root, "home/.zshrc")
	if err != nil || len(files) != 1 || files[0].Path != want || files[0].Backup != "" {
		t.Fatalf("clobbers %+v %v", files, err)
	}
	// With -b bak the file would be moved, unless its backup exists.
	if files, _ := h.Clobbers(context.Background(), gen, "bak"); len(files) != 0 {
		t.Errorf("with a backup extension: %+v", files)
	}
	testutil.WriteFiles(t, filepath.Join(root, "home"), map[string]string{".zshrc.bak": "old\n"})
	if files, _ := h.Clobbers(context.Background(), gen, "bak"); len(files) != 1 || files[0].Backup != want+".bak" {
		t.Errorf("backup in the way: %+v", files)
	}
}

// Generations and rollback on a real nix-env profile under the user's
// XDG_STATE_HOME, and under ROOT's per-user profiles without one.
func TestHomeGenerationsAndRollback(t *testing.T) {
	testutil.Require(t, "nix-env", "flock")
	ctx := context.Background()
	for _, xdg := range []bool{true, false} {
		h, root := newLocalHost(t)
		profile := filepath.Join(root, "nix/var/nix/profiles/per-user/alice/home-manager")
		if xdg {
			state := filepath.Join(root, "state")
			h.conn = testutil.LocalConn{Env: append(h.conn.(testutil.LocalConn).Env, "XDG_STATE_HOME="+state)}
			profile = filepath.Join(state, "nix/profiles/home-manager")
		}
		if err := os.MkdirAll(filepath.Dir(profile), 0o755); err != nil {
			t.Fatal(err)
		}
		if _, err := h.HomeGenerations(ctx); !errors.Is(err, ErrNoGeneration) {
			t.Fatalf("no generations yet: %v", err)
		}
		good, bad := storeGeneration(t, "gen-1", false), storeGeneration(t, "gen-2", true)
		for _, g := range []string{good, bad} {
			if out, err := exec.Command("nix-env", "-p", profile, "--set", g).CombinedOutput(); err != nil {
				t.Fatalf("nix-env --set: %v %s", err, out)
			}
		}
		gens, err := h.HomeGenerations(ctx)
		if err != nil || gens.Profile != profile || gens.Links[1] != good || gens.Links[2] != bad || !strings.Contains(gens.List, "(current)") {
			t.Fatalf("generations %+v %v", gens, err)
		}
		if err := h.RollbackHome(ctx, 2, 1, time.Second, nil); err != nil {
			t.Fatal(err)
		}
		if cur, _ := filepath.EvalSymlinks(profile); cur != good {
			t.Errorf("after rollback the profile is %s", cur)
		}
		// Going to a generation whose activation fails restores the other.
		if err := h.RollbackHome(ctx, 1, 2, time.Second, nil); !errors.Is(err, ErrRestored) {
			t.Errorf("failed activation: %v", err)
		}
		if cur, _ := filepath.EvalSymlinks(profile); cur != good {
			t.Errorf("after a failed rollback the profile is %s", cur)
		}
		if got := activated(t, root); got != "gen-1 \ngen-2 \n" {
			t.Errorf("activations %q", got)
		}
	}
}

func TestParseHomeGenerations(t *testing.T) {
	t.Parallel()
	out := "/home/ops/.local/state/nix/profiles/home-manager\n" +
		"   1   2026-11-25 21:48:05   \n   2   2026-11-25 21:50:12   (current)\n" +
		"--\n1-link /nix/store/aaa-home-manager-generation\n2-link /nix/store/bbb-home-manager-generation\n"
	g := parseHomeGenerations(out)
	if g.Profile != "/home/ops/.local/state/nix/profiles/home-manager" || len(g.Links) != 2 ||
		g.Links[1] != "/nix/store/aaa-home-manager-generation" || g.Links[2] != "/nix/store/bbb-home-manager-generation" ||
		!strings.Contains(g.List, "   2   2026-11-25 21:50:12   (current)") {
		t.Errorf("got %+v", g)
	}
}
