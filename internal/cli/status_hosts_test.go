package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nixctl/nixctl/internal/app"
	"github.com/nixctl/nixctl/internal/deploy"
	"github.com/nixctl/nixctl/internal/execx"
	"github.com/nixctl/nixctl/internal/exitcode"
	"github.com/nixctl/nixctl/internal/hostops"
	"github.com/nixctl/nixctl/internal/testutil"
	"github.com/nixctl/nixctl/internal/testutil/localhosts"
	"github.com/nixctl/nixctl/internal/ui"
)

// hostRoot lays out what a NixOS host shows status: the current and booted
// systems, the system profile at generation gen, and the record of the
// last deploy.
func hostRoot(t *testing.T, system string, gen int, last hostops.LockInfo) string {
	t.Helper()
	root := t.TempDir()
	record, err := json.Marshal(last)
	if err != nil {
		t.Fatal(err)
	}
	testutil.WriteFiles(t, root, map[string]string{"var/lib/nixctl/last-deploy.json": string(record)})
	profiles := filepath.Join(root, "nix/var/nix/profiles")
	for _, dir := range []string{filepath.Join(root, "run"), profiles} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	link := fmt.Sprintf("system-%d-link", gen)
	testutil.Symlink(t, system, filepath.Join(profiles, link))
	testutil.Symlink(t, link, filepath.Join(profiles, "system"))
	testutil.Symlink(t, system, filepath.Join(root, "run/current-system"))
	testutil.Symlink(t, system, filepath.Join(root, "run/booted-system"))
	return root
}

// The host operations come from app.Parts like the runner: status reads
// each host through them, with the real scripts, and reports what each
// answered; a host that cannot be reached is said, the other still read.
func TestStatusReadsHostsThroughTheHostsOfParts(t *testing.T) {
	t.Parallel()
	const web = "/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-nixos-system-web-25.05"
	finished := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	hosts := &localhosts.Hosts{Root: map[string]string{
		"10.0.0.1": hostRoot(t, web, 7, hostops.LockInfo{RunID: "run-1", Who: "alice@laptop", Action: "switch", Result: "ok", Finished: finished, Generation: 7}),
	}}
	inv := "hosts:\n  - {name: web, address: 10.0.0.1}\n  - {name: db, address: 10.0.0.2}\n"
	dir := testutil.WriteTree(t, map[string]string{"nixctl.yaml": inv, "flake.nix": "{}"})
	rec := &execx.Recorder{}
	var out, errb bytes.Buffer
	deps := app.New(app.Parts{Runner: rec, Hosts: hosts, Env: testEnv(map[string]string{"HOME": t.TempDir()}), Cwd: dir, Version: "test",
		Stdio: ui.Stdio{In: strings.NewReader(""), Out: &out, Err: &errb}})
	code := runDeps(deps, "--json", "status", "--all", "--no-eval")
	if code != exitcode.Partial {
		t.Fatalf("exit %d, want %d (one host unreachable):\n%s%s", code, exitcode.Partial, out.String(), errb.String())
	}
	var sts []deploy.HostStatus
	if err := json.Unmarshal(out.Bytes(), &sts); err != nil || len(sts) != 2 {
		t.Fatalf("status --json (%v):\n%s", err, out.String())
	}
	got := sts[0]
	if got.Host != "web" || !got.Reachable || got.Current != web || got.Booted != web || got.RebootNeeded || got.Generation != 7 ||
		got.LastDeploy == nil || got.LastDeploy.Who != "alice@laptop" || got.LastDeploy.Result != "ok" || !got.LastDeploy.Finished.Equal(finished) {
		t.Errorf("web: %+v", got)
	}
	if sts[1].Host != "db" || sts[1].Reachable || !strings.Contains(sts[1].Error, "10.0.0.2") {
		t.Errorf("db: %+v", sts[1])
	}
	if opened := hosts.Opened(); !slices.Contains(opened, "root@10.0.0.1") {
		t.Errorf("web was not read through the given hosts: %v", opened)
	}
	if len(rec.Calls()) != 0 {
		t.Errorf("status --no-eval ran %v", rec.Argvs())
	}
}
