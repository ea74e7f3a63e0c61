package scaffold

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nixctl/nixctl/internal/fsx"
	"github.com/nixctl/nixctl/internal/inventory"
	"github.com/nixctl/nixctl/internal/testutil"
	nixfiles "github.com/nixctl/nixctl/nix"
)

func initRepo(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	plan, err := PlanInit(dir, nixfiles.Template(), TemplateNames)
	if err != nil {
		t.Fatal(err)
	}
	if err := plan.Apply(fsx.Disk{}); err != nil {
		t.Fatal(err)
	}
	return dir
}

func read(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestAddHostKeepsTheInventoryAsItWas(t *testing.T) {
	t.Parallel()
	dir := initRepo(t)
	invBefore := read(t, filepath.Join(dir, "nixctl.yaml"))
	flakeBefore := read(t, filepath.Join(dir, "flake.nix"))
	plan, err := PlanHost(dir, nixfiles.Template(), HostSpec{Name: "web-1", Address: "2001:db8::5", User: "ops", Tags: []string{"web", "yes"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := plan.Apply(fsx.Disk{}); err != nil {
		t.Fatal(err)
	}
	inv := read(t, filepath.Join(dir, "nixctl.yaml"))
	// Every line of the old file is still there, in order, with the entry
	// inserted after the last host and before the profiles' comment.
	want := strings.Replace(invBefore, "        timeout: 2m\n", "        timeout: 2m\n"+
		"  - name: web-1\n    address: 2001:db8::5\n    user: ops\n    tags: [web, \"yes\"]\n", 1)
	if inv != want {
		t.Errorf("nixctl.yaml:\n%s\nwant:\n%s", inv, want)
	}
	fleet, err := inventory.Parse("nixctl.yaml", []byte(inv))
	if err != nil {
		t.Fatal(err)
	}
	h, ok := fleet.Host("web-1")
	if !ok || h.Address != "2001:db8::5" || h.User != "ops" || !h.HasTag("yes") {
		t.Errorf("host = %+v", h)
	}
	flake := read(t, filepath.Join(dir, "flake.nix"))
	if want := strings.Replace(flakeBefore, "        # nixctl:add-host", "        web-1 = mkHost \"web-1\";\n        # nixctl:add-host", 1); flake != want {
		t.Errorf("flake.nix:\n%s", flake)
	}
	conf := read(t, filepath.Join(dir, "hosts/web-1/configuration.nix"))
	for _, s := range []string{`networking.hostName = "web-1";`, `system.stateVersion = "25.05";`, "../../modules/server/base.nix"} {
		if !strings.Contains(conf, s) {
			t.Errorf("hosts/web-1/configuration.nix lacks %s", s)
		}
	}
	if strings.Contains(conf, "nixos-mini") {
		t.Error("hosts/web-1/configuration.nix still names nixos-mini")
	}

	// The same name again is refused, and nothing changes.
	before := snapshot(t, dir)
	_, err = PlanHost(dir, nixfiles.Template(), HostSpec{Name: "web-1", Address: "10.0.0.1"})
	if !errors.As(err, new(*ExistsError)) {
		t.Errorf("second add: err = %v, want *ExistsError", err)
	}
	sameSnapshot(t, before, snapshot(t, dir))
}

func TestAddHostRefusesBadInput(t *testing.T) {
	t.Parallel()
	dir := initRepo(t)
	before := snapshot(t, dir)
	for _, h := range []HostSpec{
		{Name: "../evil", Address: "10.0.0.1"},
		{Name: "a/b", Address: "10.0.0.1"},
		{Name: "", Address: "10.0.0.1"},
		{Name: "web.1", Address: "10.0.0.1"},
		{Name: "web_1", Address: "10.0.0.1"},
		{Name: "x", Address: "10.0.0.1 && reboot"},
		{Name: "x", Address: "-oProxyCommand=id"},
		{Name: "x", Address: "10.0.0.1", User: "Root;"},
		{Name: "x", Address: "10.0.0.1", Tags: []string{"a b"}},
		{Name: "nixos-mini", Address: "10.0.0.1"},
	} {
		if _, err := PlanHost(dir, nixfiles.Template(), h); err == nil {
			t.Errorf("%+v accepted", h)
		}
	}
	sameSnapshot(t, before, snapshot(t, dir)) // refusing writes nothing
	// A host the flake has but the inventory lacks is refused too.
	if _, err := PlanHost(dir, nixfiles.Template(), HostSpec{Name: "x", Address: "10.0.0.1"}); err != nil {
		t.Fatal(err)
	}
	flake := filepath.Join(dir, "flake.nix")
	if err := os.WriteFile(flake, []byte(strings.Replace(read(t, flake), "        # nixctl:add-host", "        only-in-flake = mkHost \"only-in-flake\";\n        # nixctl:add-host", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := PlanHost(dir, nixfiles.Template(), HostSpec{Name: "only-in-flake", Address: "10.0.0.1"})
	if e := (*ExistsError)(nil); !errors.As(err, &e) || e.File != "flake.nix" || e.Kind != "host" {
		t.Errorf("err = %v, want an *ExistsError naming flake.nix", err)
	}
	// A host directory left over from before is in the way.
	if err := os.MkdirAll(filepath.Join(dir, "hosts/old"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "hosts/old/configuration.nix"), []byte("{ }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	before = snapshot(t, dir)
	_, err = PlanHost(dir, nixfiles.Template(), HostSpec{Name: "old", Address: "10.0.0.1"})
	if !errors.As(err, new(*ConflictError)) {
		t.Errorf("err = %v, want *ConflictError", err)
	}
	sameSnapshot(t, before, snapshot(t, dir))
}

func TestAddHostNeedsTheMarker(t *testing.T) {
	t.Parallel()
	dir := initRepo(t)
	p := filepath.Join(dir, "flake.nix")
	flake := strings.Replace(read(t, p), `# nixctl:add-host NAME = mkHost "NAME";`, "", 1)
	if err := os.WriteFile(p, []byte(flake), 0o644); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, dir)
	_, err := PlanHost(dir, nixfiles.Template(), HostSpec{Name: "web-1", Address: "10.0.0.1"})
	var m *MarkerError
	if !errors.As(err, &m) {
		t.Fatalf("err = %v, want *MarkerError", err)
	}
	if !strings.Contains(m.Hint(), `web-1 = mkHost "web-1";`) {
		t.Errorf("hint = %q, want the entry to add by hand", m.Hint())
	}
	sameSnapshot(t, before, snapshot(t, dir))
}

func TestFlakeEntry(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ pattern, name, want string }{
		{`NAME = mkHost "NAME";`, "web-1", `web-1 = mkHost "web-1";`},
		{`NAME = mkHost "NAME";`, "1web", `"1web" = mkHost "1web";`},
		{`NAME = mkHome [ ./home/NAME.nix ];`, "work", `work = mkHome [ ./home/work.nix ];`},
		{`NAME = lib.host (import ./hosts/NAME.nix);`, "gw", `gw = lib.host (import ./hosts/gw.nix);`},
	} {
		if got := flakeEntry(tc.pattern, tc.name); got != tc.want {
			t.Errorf("flakeEntry(%q, %q) = %q, want %q", tc.pattern, tc.name, got, tc.want)
		}
	}
}

func TestAppendEntry(t *testing.T) {
	t.Parallel()
	fields := []field{{Key: "name", Value: "new"}, {Key: "address", Value: "10.0.0.1"}}
	for _, tc := range []struct{ name, in, want string }{
		{"last key", "hosts:\n  - name: a\n    address: 10.0.0.2\n", "hosts:\n  - name: a\n    address: 10.0.0.2\n  - name: new\n    address: 10.0.0.1\n"},
		{"no indent, no final newline", "hosts:\n- name: a\n  address: 10.0.0.2", "hosts:\n- name: a\n  address: 10.0.0.2\n- name: new\n  address: 10.0.0.1\n"},
		{"before the next key and its comment", "hosts:\n  - name: a\n    address: b\n    # a's note\n\n# the profiles\nprofiles: []\n",
			"hosts:\n  - name: a\n    address: b\n    # a's note\n  - name: new\n    address: 10.0.0.1\n\n# the profiles\nprofiles: []\n"},
		{"empty key", "# top\nhosts:\nprofiles: []\n", "# top\nhosts:\n  - name: new\n    address: 10.0.0.1\nprofiles: []\n"},
		{"missing key", "profiles:\n  - name: p\n", "profiles:\n  - name: p\n\nhosts:\n  - name: new\n    address: 10.0.0.1\n"},
	} {
		got, err := appendEntry([]byte(tc.in), "hosts", fields)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if string(got) != tc.want {
			t.Errorf("%s:\n%s\nwant:\n%s", tc.name, got, tc.want)
		}
	}
	if _, err := appendEntry([]byte("hosts: [{name: a, address: b}]\n"), "hosts", fields); err == nil {
		t.Error("a flow-style list was edited")
	}
}

func TestAddProfile(t *testing.T) {
	t.Parallel()
	dir := initRepo(t)
	plan, err := PlanProfile(dir, ProfileSpec{Name: "node", Host: "nixos-mini", Tags: []string{"servers"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := plan.Apply(fsx.Disk{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(read(t, filepath.Join(dir, "home/node.nix")), "./server/common.nix") {
		t.Error("a profile on a host should start from the server profile")
	}
	if !strings.Contains(read(t, filepath.Join(dir, "flake.nix")), "        node = mkHome [ ./home/node.nix ];\n        # nixctl:add-profile") {
		t.Error("flake.nix lacks the homeConfigurations entry")
	}
	fleet, err := inventory.Parse("nixctl.yaml", []byte(read(t, filepath.Join(dir, "nixctl.yaml"))))
	if err != nil {
		t.Fatal(err)
	}
	if p, ok := fleet.Profile("node"); !ok || p.Host != "nixos-mini" || !p.HasTag("servers") {
		t.Errorf("profile = %+v", p)
	}
	for _, p := range []ProfileSpec{{Name: "node"}, {Name: "x", Host: "nowhere"}, {Name: "../x"}, {Name: "x", User: "A B"}} {
		if _, err := PlanProfile(dir, p); err == nil {
			t.Errorf("%+v accepted", p)
		}
	}
}

// A write that fails half-way is undone: the repository is as it was.
func TestApplyUndoesAHalfWrittenPlan(t *testing.T) {
	t.Parallel()
	dir := initRepo(t)
	plan, err := PlanHost(dir, nixfiles.Template(), HostSpec{Name: "web-1", Address: "10.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	// The rewrite of nixctl.yaml, the last step, fails after the new files
	// were created and flake.nix was already replaced.
	before := snapshot(t, dir)
	flakeBefore := read(t, filepath.Join(dir, "flake.nix"))
	if err := plan.Apply(failingWriter{fail: filepath.Join(dir, "nixctl.yaml")}); err == nil {
		t.Fatal("Apply succeeded through a failing write")
	}
	after := snapshot(t, dir)
	for k, v := range before {
		if k == "flake.nix" {
			// Restored by a rename: same content, new mtime.
			if read(t, filepath.Join(dir, "flake.nix")) != flakeBefore {
				t.Error("flake.nix was not restored")
			}
			continue
		}
		if after[k] != v {
			t.Errorf("%s changed", k)
		}
	}
	for k := range after {
		if _, ok := before[k]; !ok {
			t.Errorf("%s was left behind", k)
		}
	}
}

// failingWriter writes to disk, except the one file it fails to write.
type failingWriter struct {
	fsx.Disk
	fail string
}

func (w failingWriter) WriteFile(path string, data []byte, perm fs.FileMode) error {
	if path == w.fail {
		return errors.New("disk full")
	}
	return w.Disk.WriteFile(path, data, perm)
}

// A file to edit that is no longer a regular file when the plan is applied
// is refused before anything is written.
func TestApplyRefusesToEditAnythingButARegularFile(t *testing.T) {
	dir := initRepo(t)
	plan, err := PlanHost(dir, nixfiles.Template(), HostSpec{Name: "web-1", Address: "10.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	inv := filepath.Join(dir, "nixctl.yaml")
	if err := os.Remove(inv); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(inv, 0o755); err != nil {
		t.Fatal(err)
	}
	before := testutil.Tree(t, dir)
	if err := plan.Apply(fsx.Disk{}); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Fatalf("Apply over a folder: %v", err)
	}
	testutil.SameTree(t, "a refused Apply", before, testutil.Tree(t, dir))
}
