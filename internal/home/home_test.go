package home

import (
	"github.com/nixctl/nixctl/internal/hostops"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/nixctl/nixctl/internal/fault"
	"github.com/nixctl/nixctl/internal/inventory"
	"github.com/nixctl/nixctl/internal/nix"
)

func TestAutoSelect(t *testing.T) {
	t.Parallel()
	laptop := inventory.Profile{Name: "laptop", Attr: "gabriel@laptop"}
	desktop := inventory.Profile{Name: "desktop", Attr: "gabriel@desktop"}
	mini := inventory.Profile{Name: "nixos-mini", Attr: "ops"}
	tests := []struct {
		name     string
		profiles []inventory.Profile
		who      Who
		want     string // profile name, or "" for a usage error
	}{
		{"user@hostname attr", []inventory.Profile{desktop, laptop, mini}, Who{"gabriel", "laptop"}, "laptop"},
		{"user@short hostname attr", []inventory.Profile{desktop, laptop}, Who{"gabriel", "laptop.home.arpa"}, "laptop"},
		{"attr wins over name", []inventory.Profile{{Name: "laptop", Attr: "x"}, {Name: "other", Attr: "gabriel@laptop"}}, Who{"gabriel", "laptop"}, "other"},
		{"short hostname name", []inventory.Profile{desktop, laptop, mini}, Who{"ops", "nixos-mini.lan"}, "nixos-mini"},
		{"the only profile", []inventory.Profile{mini}, Who{"someone", "elsewhere"}, "nixos-mini"},
		{"ambiguous", []inventory.Profile{desktop, laptop}, Who{"root", "ci"}, ""},
		{"none", nil, Who{"root", "ci"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := AutoSelect(tt.profiles, tt.who, "diff")
			if tt.want == "" {
				if fault.KindOf(err) != fault.Usage {
					t.Fatalf("want a usage error, got %v (%v)", err, p.Name)
				}
				if len(tt.profiles) > 0 && !strings.Contains(err.Error(), "desktop, laptop") {
					t.Errorf("error does not list the profiles: %v", err)
				}
				if len(tt.profiles) > 0 && fault.HintOf(err) != "name one: nixctl home diff desktop" {
					t.Errorf("the hint names another command: %q", fault.HintOf(err))
				}
				return
			}
			if err != nil || p.Name != tt.want {
				t.Fatalf("got %q, %v; want %q", p.Name, err, tt.want)
			}
		})
	}
}

// generation makes a fake generation whose home-files hold files.
func generation(t *testing.T, files map[string]string) string {
	t.Helper()
	gen := t.TempDir()
	hf := filepath.Join(t.TempDir(), "home-manager-files")
	for name, content := range files {
		p := filepath.Join(hf, name)
		must(t, os.MkdirAll(filepath.Dir(p), 0o755))
		must(t, os.WriteFile(p, []byte(content), 0o644))
	}
	must(t, os.Symlink(hf, filepath.Join(gen, "home-files")))
	return gen
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestFindClobbers(t *testing.T) {
	t.Parallel()
	gen := generation(t, map[string]string{
		".bashrc": "new", ".profile": "same", ".config/git/config": "new", ".managed": "new", ".absent": "new", ".foreign": "new", ".backedup": "new",
	})
	home := t.TempDir()
	write := func(name, content string) {
		p := filepath.Join(home, name)
		must(t, os.MkdirAll(filepath.Dir(p), 0o755))
		must(t, os.WriteFile(p, []byte(content), 0o644))
	}
	write(".bashrc", "mine")
	write(".profile", "same")
	write(".config/git/config", "mine")
	write(".backedup", "mine")
	write(".backedup.bak", "an older backup")
	must(t, os.Symlink("/nix/store/0000000000000000000000000000000a-home-manager-files/.managed", filepath.Join(home, ".managed")))
	must(t, os.Symlink("/etc/hostname", filepath.Join(home, ".foreign")))

	got, err := FindClobbers(gen, home, "")
	must(t, err)
	want := []Clobber{{Path: home + "/.backedup"}, {Path: home + "/.bashrc"}, {Path: home + "/.config/git/config"}, {Path: home + "/.foreign"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("without -b:\n got %v\nwant %v", got, want)
	}

	got, err = FindClobbers(gen, home, "bak")
	must(t, err)
	want = []Clobber{{Path: home + "/.backedup", Backup: home + "/.backedup.bak"}, {Path: home + "/.foreign"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("with -b bak:\n got %v\nwant %v", got, want)
	}

	err = ClobberError("laptop", got, "bak")
	if err.Error() != "profile laptop: home-manager would clobber 2 files: "+home+"/.backedup (its backup "+home+"/.backedup.bak exists already), "+home+"/.foreign" {
		t.Errorf("error: %v", err)
	}
	if h := fault.HintOf(err); !strings.Contains(h, "remove the old backups "+home+"/.backedup.bak") || !strings.Contains(h, "move or remove "+home+"/.foreign") {
		t.Errorf("hint: %q", h)
	}

	if got, err := FindClobbers(t.TempDir(), home, ""); err != nil || len(got) != 0 {
		t.Errorf("a generation without home-files: %v %v", got, err)
	}
}

func TestParseClobbered(t *testing.T) {
	t.Parallel()
	out := nix.StripANSI("Activating checkLinkTargets\n" +
		"\x1b[1;31mExisting file '/home/g/.bashrc' would be clobbered\x1b[0m\n" +
		"Existing file '/home/g/.zshrc.bak' would be clobbered by backing up '/home/g/.zshrc'\n" +
		"Existing file '/home/g/.old' is in the way of '/nix/store/x-home-manager-files/.old'\n" +
		"Existing file '/home/g/.moved' is in the way of '/nix/store/x-home-manager-files/.moved', will be moved to '/home/g/.moved.bak'\n" +
		"Existing file '/home/g/.bashrc' would be clobbered\n" +
		"Please do one of the following:\n")
	got := ParseClobbered(out)
	want := []Clobber{{Path: "/home/g/.bashrc"}, {Path: "/home/g/.zshrc", Backup: "/home/g/.zshrc.bak"}, {Path: "/home/g/.old"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v\nwant %v", got, want)
	}
	if len(ParseClobbered("error: build failed")) != 0 {
		t.Error("an unrelated failure was read as a clobber")
	}
}

func TestRollbackTarget(t *testing.T) {
	t.Parallel()
	gens := []Generation{{Generation: nix.Generation{Number: 1}}, {Generation: nix.Generation{Number: 2}}, {Generation: nix.Generation{Number: 3, Current: true}}}
	cur, target, err := RollbackTarget(gens, 0)
	if err != nil || cur.Number != 3 || target.Number != 2 {
		t.Errorf("previous: %v %v %v", cur.Number, target.Number, err)
	}
	if _, target, err = RollbackTarget(gens, 1); err != nil || target.Number != 1 {
		t.Errorf("--to 1: %v %v", target.Number, err)
	}
	for _, to := range []int{3, 7} {
		if _, _, err := RollbackTarget(gens, to); fault.KindOf(err) != fault.Usage {
			t.Errorf("--to %d: %v", to, err)
		}
	}
	if _, _, err := RollbackTarget(gens[2:], 0); err == nil {
		t.Error("rolled back from the first generation")
	}
}

func TestProfilePath(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	if got := ProfilePath("", home, "gabriel"); got != "/nix/var/nix/profiles/per-user/gabriel/home-manager" {
		t.Errorf("without ~/.local/state/nix/profiles: %s", got)
	}
	must(t, os.MkdirAll(filepath.Join(home, ".local/state/nix/profiles"), 0o755))
	if got := ProfilePath("", home, "gabriel"); got != home+"/.local/state/nix/profiles/home-manager" {
		t.Errorf("with it: %s", got)
	}
	state := t.TempDir()
	must(t, os.MkdirAll(filepath.Join(state, "nix/profiles"), 0o755))
	if got := ProfilePath(state, home, "gabriel"); got != state+"/nix/profiles/home-manager" {
		t.Errorf("XDG_STATE_HOME: %s", got)
	}
}

func TestRemoteGenerations(t *testing.T) {
	t.Parallel()
	gens, err := remoteGenerations(hostops.HomeGenerations{
		Profile: "/home/ops/.local/state/nix/profiles/home-manager",
		List:    "   1   2026-11-25 21:48:05   \n   2   2026-11-25 21:50:12   (current)\n",
		Links:   map[int]string{1: "/nix/store/aaa-home-manager-generation", 2: "/nix/store/bbb-home-manager-generation"},
	})
	must(t, err)
	if len(gens) != 2 || gens[0].Path != "/nix/store/aaa-home-manager-generation" || gens[1].Path != "/nix/store/bbb-home-manager-generation" || !gens[1].Current {
		t.Errorf("got %+v", gens)
	}
}
