package scaffold

import (
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nixctl/nixctl/internal/fsx"
	"github.com/nixctl/nixctl/internal/inventory"
	"github.com/nixctl/nixctl/internal/testutil"
	nixfiles "github.com/nixctl/nixctl/nix"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

var alice = Names{User: "alice", Host: "web-1", Address: "10.0.0.7", Release: "25.11"}

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	p := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(p, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/scaffold -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the output (go test ./internal/scaffold -update rewrites it):\n%s", p, diffLines(string(want), got))
	}
}

func diffLines(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for i := 0; i < len(w) || i < len(g); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			fmt.Fprintf(&b, "line %d:\n  want %q\n  got  %q\n", i+1, wl, gl)
		}
	}
	return b.String()
}

// The tree init writes, and every line that carries one of the user's names.
func TestInitGolden(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	plan, err := PlanInit(dir, nixfiles.Template(), alice)
	if err != nil {
		t.Fatal(err)
	}
	if err := plan.Apply(fsx.Disk{}); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "== %s\n", filepath.ToSlash(rel))
		for i, line := range strings.Split(string(data), "\n") {
			for _, v := range []string{alice.User, alice.Host, alice.Address, alice.Release} {
				if strings.Contains(line, v) {
					fmt.Fprintf(&b, "%d: %s\n", i+1, strings.TrimSpace(line))
					break
				}
			}
			for _, v := range []string{"gabriel", "nixos-mini", "192.168.1.20", "25.05"} {
				if strings.Contains(line, v) {
					t.Errorf("%s:%d still has the template's %q: %s", rel, i+1, v, line)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "init.golden", b.String())
}

// The template as it stands is the repository nixctl init writes with the
// seed's names: `nix flake init -t` and `nixctl init` agree.
func TestTemplateIsItsOwnDefault(t *testing.T) {
	t.Parallel()
	files, err := Render(nixfiles.Template(), TemplateNames)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		orig, err := fs.ReadFile(nixfiles.Template(), f.Path)
		if err != nil {
			t.Fatalf("%s: %v", f.Path, err)
		}
		if string(orig) != string(f.Data) {
			t.Errorf("%s changes when rendered with the template's own names", f.Path)
		}
	}
}

func TestGeneratedNixFilesParse(t *testing.T) {
	testutil.Require(t, "nix-instantiate")
	for _, n := range []Names{alice, {User: "bob", Host: "9node", Address: "2001:db8::7", Release: "26.05"}} {
		dir := t.TempDir()
		plan, err := PlanInit(dir, nixfiles.Template(), n)
		if err != nil {
			t.Fatal(err)
		}
		if err := plan.Apply(fsx.Disk{}); err != nil {
			t.Fatal(err)
		}
		count := 0
		for _, f := range plan.Create {
			if !strings.HasSuffix(f.Path, ".nix") {
				continue
			}
			count++
			if out, err := exec.Command("nix-instantiate", "--parse", filepath.Join(dir, f.Path)).CombinedOutput(); err != nil {
				t.Errorf("%v: %s does not parse: %s", n, f.Path, out)
			}
		}
		if count < 12 {
			t.Errorf("only %d .nix files generated", count)
		}
	}
}

func TestGeneratedInventoryIsValid(t *testing.T) {
	t.Parallel()
	for _, n := range []Names{alice, {User: "bob", Host: "node", Address: "2001:db8::7", Release: "25.05"}, {User: "c", Host: "mini", Address: "mini.home.arpa", Release: "25.05"}} {
		files, err := Render(nixfiles.Template(), n)
		if err != nil {
			t.Fatal(err)
		}
		var inv []byte
		for _, f := range files {
			if f.Path == inventory.FileName {
				inv = f.Data
			}
		}
		fleet, err := inventory.Parse("nixctl.yaml", inv)
		if err != nil {
			t.Fatalf("%v: %v", n, err)
		}
		h, ok := fleet.Host(n.Host)
		if !ok || h.Address != n.Address || h.User != n.User {
			t.Errorf("%v: host entry = %+v", n, h)
		}
		if len(h.Health) != 3 {
			t.Fatalf("%v: health = %+v", n, h.Health)
		}
		if want := hostPort(n.Address, 22); h.Health[0].TCP != want {
			t.Errorf("tcp check = %q, want %q", h.Health[0].TCP, want)
		}
		for _, p := range []string{"laptop", "desktop", "server"} {
			if pr, ok := fleet.Profile(p); !ok || pr.User != n.User {
				t.Errorf("%v: profile %s = %+v", n, p, pr)
			}
		}
		if pr, _ := fleet.Profile("server"); pr.Host != n.Host {
			t.Errorf("server profile runs on %q, want %q", pr.Host, n.Host)
		}
	}
}

func TestNamesAreValidated(t *testing.T) {
	t.Parallel()
	ok := alice
	for _, tc := range []struct {
		edit func(*Names)
		want string
	}{
		{func(n *Names) { n.User = "../etc" }, "--user"},
		{func(n *Names) { n.User = "root" }, "root"},
		{func(n *Names) { n.User = "Alice" }, "--user"},
		{func(n *Names) { n.Host = "../x" }, "--host"},
		{func(n *Names) { n.Host = "a.b" }, "--host"},
		{func(n *Names) { n.Host = "-x" }, "--host"},
		{func(n *Names) { n.Host = "a b" }, "--host"},
		{func(n *Names) { n.Address = "1.2.3.4; rm" }, "--address"},
		{func(n *Names) { n.Address = "-oProxyCommand=x" }, "--address"},
		{func(n *Names) { n.Release = "24.11" }, "older than 25.05"},
		{func(n *Names) { n.Release = "unstable" }, "not a NixOS release"},
		{func(n *Names) { n.Release = "25.06" }, "not a NixOS release"},
	} {
		n := ok
		tc.edit(&n)
		err := n.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: err = %v, want it to mention %q", n, err, tc.want)
		}
		if _, err := PlanInit(t.TempDir(), nixfiles.Template(), n); err == nil {
			t.Errorf("%+v: PlanInit accepted it", n)
		}
	}
	if err := ok.Validate(); err != nil {
		t.Errorf("valid names refused: %v", err)
	}
	// Several bad flags: every one is named, on one line.
	err := Names{User: "A", Host: "../x", Address: "a b", Release: "1"}.Validate()
	if err == nil || strings.Contains(err.Error(), "\n") || strings.Count(err.Error(), "; ") != 3 {
		t.Errorf("err = %q, want four refusals on one line", err)
	}
}

// snapshot records every file under dir with its content and mode.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if d.IsDir() {
			out[rel+"/"] = info.Mode().String()
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		out[rel] = info.Mode().String() + " " + info.ModTime().String() + " " + string(data)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func sameSnapshot(t *testing.T, before, after map[string]string) {
	t.Helper()
	for k, v := range before {
		if after[k] != v {
			t.Errorf("%s changed", k)
		}
	}
	for k := range after {
		if _, ok := before[k]; !ok {
			t.Errorf("%s appeared", k)
		}
	}
}

func TestInitRefusesToOverwriteAndWritesNothing(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	plan, err := PlanInit(dir, nixfiles.Template(), alice)
	if err != nil {
		t.Fatal(err)
	}
	if err := plan.Apply(fsx.Disk{}); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, dir)
	_, err = PlanInit(dir, nixfiles.Template(), alice)
	var conflict *ConflictError
	if !errors.As(err, &conflict) {
		t.Fatalf("second init: err = %v, want a *ConflictError", err)
	}
	if len(conflict.Paths) != len(plan.Create) {
		t.Errorf("listed %d conflicts, want all %d files", len(conflict.Paths), len(plan.Create))
	}
	sameSnapshot(t, before, snapshot(t, dir))

	// One file in the way is enough to write nothing at all.
	other := t.TempDir()
	testutil.WriteFiles(t, other, map[string]string{"nixctl.yaml": "# mine\n", "notes.txt": "keep\n"})
	before = snapshot(t, other)
	_, err = PlanInit(other, nixfiles.Template(), alice)
	if err == nil || !strings.Contains(err.Error(), "nixctl.yaml") || strings.Contains(err.Error(), "flake.nix") {
		t.Errorf("err = %v, want exactly nixctl.yaml listed", err)
	}
	sameSnapshot(t, before, snapshot(t, other))

	// A file where a directory must go is a conflict too.
	blocked := t.TempDir()
	testutil.WriteFiles(t, blocked, map[string]string{"home": "a file\n"})
	if _, err := PlanInit(blocked, nixfiles.Template(), alice); err == nil || !strings.Contains(err.Error(), "home (not a directory)") {
		t.Errorf("err = %v, want home listed as not a directory", err)
	}
}

// After 25.05 the template is written with the names the later release has.
func TestLaterReleasesGetRenamedOptions(t *testing.T) {
	t.Parallel()
	files, err := Render(nixfiles.Template(), alice) // 25.11
	if err != nil {
		t.Fatal(err)
	}
	byPath := map[string]string{}
	for _, f := range files {
		byPath[f.Path] = string(f.Data)
	}
	for path, want := range map[string][]string{
		"home/graphical.nix":    {"  targets.genericLinux.nixGL.packages = inputs.nixgl.packages;", "  targets.genericLinux.nixGL.defaultWrapper = \"mesa\";"},
		"home/programs/cli.nix": {"    settings.user.name = user;", "    settings.user.email = \"${user}@example.com\";"},
		"flake.nix":             {"formatter.${system} = pkgs.nixfmt;"},
	} {
		for _, w := range want {
			if !strings.Contains(byPath[path], w) {
				t.Errorf("%s lacks %q", path, w)
			}
		}
	}
	if strings.Contains(byPath["home/graphical.nix"], "\n  nixGL.") {
		t.Error("home/graphical.nix still sets nixGL.* for 25.11")
	}
}
