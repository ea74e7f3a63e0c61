package nix

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestHomeArgv(t *testing.T) {
	t.Parallel()
	nixFlags := "--extra-experimental-features|nix-command flakes"
	tests := []struct {
		name string
		argv []string
		want string // argv joined by |
	}{
		{"switch", HomeManagerSwitch(HomeManagerOptions{Flake: "/repo", Attr: "gabriel@laptop", BackupExt: "hm-bak"}),
			"home-manager|switch|--flake|/repo#gabriel@laptop|-b|hm-bak"},
		{"switch without backup", HomeManagerSwitch(HomeManagerOptions{Flake: "/repo", Attr: "server"}),
			"home-manager|switch|--flake|/repo#server"},
		{"switch with extra", HomeManagerSwitch(HomeManagerOptions{Flake: "github:a/b", Attr: "p", Extra: []string{"--show-trace"}}),
			"home-manager|switch|--flake|github:a/b#p|--show-trace"},
		{"via nix run", HomeManagerViaNix(HomeManagerOptions{Flake: "/repo", Attr: "gabriel@laptop", BackupExt: "bak"}),
			"nix|run|" + nixFlags + "|--inputs-from|/repo|home-manager|--|switch|--flake|/repo#gabriel@laptop|-b|bak"},
		{"via nix run offline", HomeManagerViaNix(HomeManagerOptions{Flake: "/repo", Attr: "p"}, "--option", "flake-registry", "/r.json"),
			"nix|run|" + nixFlags + "|--inputs-from|/repo|--option|flake-registry|/r.json|home-manager|--|switch|--flake|/repo#p"},
		{"build several", Build(ActivationInstallables("/repo", "gabriel@laptop", "server")),
			"nix|build|--no-link|--json|--log-format|internal-json|" + nixFlags + `|/repo#homeConfigurations."gabriel@laptop".activationPackage|/repo#homeConfigurations.server.activationPackage`},
		{"diff-closures", DiffClosures("/nix/store/a", "/nix/store/b"),
			"nix|store|diff-closures|" + nixFlags + "|/nix/store/a|/nix/store/b"},
		{"path-info", PathInfoClosureSize("/nix/store/a"),
			"nix|path-info|" + nixFlags + "|--json|--closure-size|/nix/store/a"},
		{"list generations", ListGenerations("/home/g/.local/state/nix/profiles/home-manager"),
			"nix-env|--list-generations|-p|/home/g/.local/state/nix/profiles/home-manager"},
		{"switch generation", SwitchGeneration("/p/home-manager", 3),
			"nix-env|-p|/p/home-manager|--switch-generation|3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := strings.Join(tt.argv, "|"); got != tt.want {
				t.Errorf("argv\n got %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestCopyToSSH(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		o         CopyOptions
		argv, env string
	}{
		{"user and options", CopyOptions{User: "root", Address: "192.0.2.20", SSHOpts: []string{"-p", "2222", "-i", "/k"}, Paths: []string{"/nix/store/x"}},
			"nix|copy|--extra-experimental-features|nix-command flakes|--to|ssh://root@192.0.2.20|/nix/store/x", "NIX_SSHOPTS=-p 2222 -i /k"},
		{"no user, no options", CopyOptions{Address: "mini.lan", Paths: []string{"/nix/store/x", "/nix/store/y"}},
			"nix|copy|--extra-experimental-features|nix-command flakes|--to|ssh://mini.lan|/nix/store/x|/nix/store/y", ""},
		{"from", CopyOptions{From: true, User: "root", Address: "mini.lan", SSHOpts: []string{"-p", "2222"}, Paths: []string{"/nix/store/x"}},
			"nix|copy|--extra-experimental-features|nix-command flakes|--from|ssh://root@mini.lan|/nix/store/x", "NIX_SSHOPTS=-p 2222"},
		{"ipv6", CopyOptions{User: "u", Address: "fd00::1", Paths: []string{"/nix/store/x"}},
			"nix|copy|--extra-experimental-features|nix-command flakes|--to|ssh://u@[fd00::1]|/nix/store/x", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			argv, env := CopyToSSH(tt.o)
			if got := strings.Join(argv, "|"); got != tt.argv {
				t.Errorf("argv\n got %s\nwant %s", got, tt.argv)
			}
			if got := strings.Join(env, "|"); got != tt.env {
				t.Errorf("env = %q, want %q", got, tt.env)
			}
		})
	}
}

func TestParseDiffClosures(t *testing.T) {
	t.Parallel()
	// What nix 2.8 printed for two fixture generations, colour codes included.
	out := "bar: 2.0 → ∅, \x1b[32;1m-22.3 KiB\x1b[0m\n" +
		"baz: ∅ → 3.0\n" +
		"foo: 1.0 → 1.1, \x1b[31;1m+32.0 KiB\x1b[0m\n" +
		"grow: \x1b[31;1m+43.0 KiB\x1b[0m\n" +
		"multi: 1.0, 1.1 → 2.0\n" +
		"unversioned: ε → ∅\n" +
		"\n" +
		"this is not a change\n"
	got := ParseDiffClosures(out)
	want := []ClosureChange{
		{Package: "bar", Kind: ChangeRemoved, Old: []string{"2.0"}, New: []string{}, SizeDelta: -22835},
		{Package: "baz", Kind: ChangeAdded, Old: []string{}, New: []string{"3.0"}},
		{Package: "foo", Kind: ChangeChanged, Old: []string{"1.0"}, New: []string{"1.1"}, SizeDelta: 32768},
		{Package: "grow", Kind: ChangeChanged, Old: []string{}, New: []string{}, SizeDelta: 44032},
		{Package: "multi", Kind: ChangeChanged, Old: []string{"1.0", "1.1"}, New: []string{"2.0"}},
		{Package: "unversioned", Kind: ChangeRemoved, Old: []string{""}, New: []string{}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ParseDiffClosures\n got %+v\nwant %+v", got, want)
	}
	if len(ParseDiffClosures("")) != 0 {
		t.Error("equal closures (empty output) must give no changes")
	}
	lines := []string{"- bar 2.0 (-22.3 KiB)", "+ baz 3.0", "~ foo 1.0 → 1.1 (+32.0 KiB)", "~ grow (+43.0 KiB)", "~ multi 1.0, 1.1 → 2.0", "- unversioned ε"}
	for i, c := range got {
		if c.String() != lines[i] {
			t.Errorf("String() = %q, want %q", c.String(), lines[i])
		}
	}
}

func TestFormatSizeDelta(t *testing.T) {
	t.Parallel()
	for b, want := range map[int64]string{0: "+0 B", 512: "+512 B", -2048: "-2.0 KiB", 3 << 20: "+3.0 MiB", 5 << 30: "+5.0 GiB"} {
		if got := FormatSizeDelta(b); got != want {
			t.Errorf("FormatSizeDelta(%d) = %q, want %q", b, got, want)
		}
	}
}

func TestParseGenerations(t *testing.T) {
	t.Parallel()
	out := "   1   2026-11-25 21:48:05   \n   2   2026-11-25 21:50:12   (current)\n"
	got, err := ParseGenerations(out, time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	want := []Generation{
		{Number: 1, Date: time.Date(2026, 11, 25, 21, 48, 5, 0, time.UTC)},
		{Number: 2, Date: time.Date(2026, 11, 25, 21, 50, 12, 0, time.UTC), Current: true},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if gens, err := ParseGenerations("", time.UTC); err != nil || len(gens) != 0 {
		t.Errorf("empty output: %v %v", gens, err)
	}
	for _, bad := range []string{"x 2026-11-25 21:48:05", "1 yesterday noon", "1"} {
		if _, err := ParseGenerations(bad, time.UTC); err == nil {
			t.Errorf("ParseGenerations(%q) succeeded", bad)
		}
	}
}

func TestParseBuildAndPathInfo(t *testing.T) {
	t.Parallel()
	res, err := ParseBuildResults([]byte(`[{"drvPath":"/nix/store/a.drv","outputs":{"out":"/nix/store/a"}},{"drvPath":"/nix/store/b.drv","outputs":{"out":"/nix/store/b"}}]`))
	if err != nil || len(res) != 2 || res[1].Out() != "/nix/store/b" {
		t.Fatalf("ParseBuildResults = %+v, %v", res, err)
	}
	if _, err := ParseBuildResults([]byte("not json")); err == nil {
		t.Error("bad JSON accepted")
	}
	infos, err := ParsePathInfo([]byte(`[{"path":"/nix/store/a","narSize":488,"closureSize":26600}]`))
	if err != nil || len(infos) != 1 || infos[0].ClosureSize != 26600 {
		t.Fatalf("ParsePathInfo list = %+v, %v", infos, err)
	}
	infos, err = ParsePathInfo([]byte(`{"/nix/store/b":{"narSize":1,"closureSize":81400}}`))
	if err != nil || len(infos) != 1 || infos[0].Path != "/nix/store/b" || infos[0].ClosureSize != 81400 {
		t.Fatalf("ParsePathInfo object = %+v, %v", infos, err)
	}
}
