package hostops

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nixctl/nixctl/internal/testutil"
)

// fakeSystem gives root a system profile with generations 1..n, each a
// directory whose bin/switch-to-configuration records how it was called.
func fakeSystem(t *testing.T, root string, n int) string {
	t.Helper()
	profiles := filepath.Join(root, "nix/var/nix/profiles")
	if err := os.MkdirAll(profiles, 0o755); err != nil {
		t.Fatal(err)
	}
	log := filepath.Join(root, "activations")
	for i := 1; i <= n; i++ {
		sys := filepath.Join(root, fmt.Sprintf("systems/%d", i))
		testutil.WriteFiles(t, sys, map[string]string{"bin/switch-to-configuration": fmt.Sprintf("#!/bin/sh\necho \"%d $1\" >>%s\n", i, log)})
		if err := os.Chmod(filepath.Join(sys, "bin/switch-to-configuration"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(sys, filepath.Join(profiles, fmt.Sprintf("system-%d-link", i))); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(fmt.Sprintf("system-%d-link", n), filepath.Join(profiles, "system")); err != nil {
		t.Fatal(err)
	}
	return log
}

func TestSystemGenerationSwitchAndReactivate(t *testing.T) {
	testutil.Require(t, "nix-env")
	ctx := context.Background()
	h, root := newLocalHost(t)
	log := fakeSystem(t, root, 3)
	if g, err := h.Generation(ctx); err != nil || g != 3 {
		t.Fatalf("generation %d, %v", g, err)
	}
	if err := h.SwitchGeneration(ctx, 2); err != nil {
		t.Fatal(err)
	}
	if g, _ := h.Generation(ctx); g != 2 {
		t.Errorf("after switching: generation %d, want 2", g)
	}
	if err := h.Reactivate(ctx); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(log); string(data) != "2 switch\n2 test\n" {
		t.Errorf("activations:\n%s", data)
	}
	err := h.SwitchGeneration(ctx, 9)
	var se *ScriptError
	if !errors.As(err, &se) || se.Script != "nixctl-system-switch-generation" || !strings.Contains(err.Error(), "9") {
		t.Errorf("a missing generation: %v", err)
	}
	if g, _ := h.Generation(ctx); g != 2 {
		t.Errorf("a failed switch moved the profile to %d", g)
	}
}

func TestStatus(t *testing.T) {
	t.Parallel()
	h, root := newLocalHost(t)
	fakeSystem(t, root, 12)
	mk := func(dir, version, kernel string) string {
		p := filepath.Join(root, dir)
		testutil.WriteFiles(t, p, map[string]string{"nixos-version": version})
		if err := os.Symlink(kernel, filepath.Join(p, "kernel")); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cur := mk("sys-b", "25.05.1234", "/nix/store/k2/bzImage")
	booted := mk("sys-a", "25.05.1000", "/nix/store/k1/bzImage")
	testutil.WriteFiles(t, root, map[string]string{
		"var/lib/nixctl/last-deploy.json": `{"runId":"r1","who":"alice@laptop","action":"switch","result":"ok"}`,
		"var/lib/nixctl/deploy.lock/info": `{"runId":"r2","who":"bob@desk","action":"boot"}`,
		"run/.keep":                       "",
	})
	_ = os.Symlink(cur, filepath.Join(root, "run/current-system"))
	_ = os.Symlink(booted, filepath.Join(root, "run/booted-system"))
	st, err := h.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.NixOSVersion != "25.05.1234" || st.Current != cur || st.Booted != booted || !st.RebootNeeded || st.Generation != 12 || st.GenerationDate.IsZero() {
		t.Errorf("status %+v", st)
	}
	if want := filepath.Join(root, "systems/12"); st.Profile != want {
		t.Errorf("profile %q, want the generation's system %q", st.Profile, want)
	}
	if st.LastDeploy == nil || st.LastDeploy.Who != "alice@laptop" || st.Locked == nil || st.Locked.Who != "bob@desk" {
		t.Errorf("records: last %+v, lock %+v", st.LastDeploy, st.Locked)
	}

	// A host with nothing: every field empty, no error.
	empty, _ := newLocalHost(t)
	if st, err := empty.Status(context.Background()); err != nil || st.Current != "" || st.Profile != "" || st.LastDeploy != nil || st.Generation != 0 {
		t.Errorf("empty host: %+v %v", st, err)
	}
}

func TestPreflight(t *testing.T) {
	testutil.Require(t, "nix")
	h, _ := newLocalHost(t)
	if err := h.Preflight(context.Background(), false); err != nil {
		t.Fatalf("nix is on the PATH: %v", err)
	}
	// A PATH with sh and nothing else.
	bin := t.TempDir()
	if err := os.Symlink("/bin/sh", filepath.Join(bin, "sh")); err != nil {
		t.Fatal(err)
	}
	bare, _ := newLocalHost(t)
	bare.conn = testutil.LocalConn{Env: []string{"PATH=" + bin, "USER=alice"}}
	if err := bare.Preflight(context.Background(), false); !errors.Is(err, ErrNoNix) {
		t.Errorf("without nix: %v", err)
	}
}
