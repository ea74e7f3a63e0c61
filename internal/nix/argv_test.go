package nix

import (
	"strings"
	"testing"
)

func TestAttr(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"nixos-mini":     "nixos-mini",
		"gabriel@laptop": `"gabriel@laptop"`,
		"db.main":        `"db.main"`,
		"web_1":          "web_1",
		"1host":          `"1host"`,
		`we"ird`:         `"we\"ird"`,
	} {
		if got := Attr(in); got != want {
			t.Errorf("Attr(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestArgv(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		got  []string
		want string
	}{
		{"flake check", FlakeCheck("/repo", FlakeCheckOptions{}),
			"nix flake check /repo --log-format internal-json --show-trace --extra-experimental-features nix-command flakes"},
		{"flake check no-build keep-going extra", FlakeCheck("/repo", FlakeCheckOptions{NoBuild: true, KeepGoing: true, Extra: []string{"--impure"}}),
			"nix flake check /repo --log-format internal-json --show-trace --extra-experimental-features nix-command flakes --no-build --keep-going --impure"},
		{"eval host", EvalDrvPath("/repo", ToplevelAttr("db.main")),
			`nix eval --raw /repo#nixosConfigurations."db.main".config.system.build.toplevel.drvPath --log-format internal-json --show-trace --extra-experimental-features nix-command flakes`},
		{"eval profile", EvalDrvPath("github:me/fleet", ActivationAttr("gabriel@laptop")),
			`nix eval --raw github:me/fleet#homeConfigurations."gabriel@laptop".activationPackage.drvPath --log-format internal-json --show-trace --extra-experimental-features nix-command flakes`},
		{"names", EvalAttrNames("/repo", "nixosConfigurations"),
			"nix eval --json /repo#nixosConfigurations --apply builtins.attrNames --extra-experimental-features nix-command flakes"},
		{"build", Build([]string{"/r#a", "/r#b"}),
			"nix build --no-link --json --log-format internal-json --extra-experimental-features nix-command flakes /r#a /r#b"},
	}
	for _, c := range cases {
		if got := strings.Join(c.got, " "); got != c.want {
			t.Errorf("%s:\n got %s\nwant %s", c.name, got, c.want)
		}
	}
	// The experimental features travel as ONE argv element.
	argv := Nix("eval")
	if argv[len(argv)-1] != "nix-command flakes" {
		t.Errorf("features split into several arguments: %q", argv)
	}
}

func TestDrvInstallableByVersion(t *testing.T) {
	t.Parallel()
	const drv = "/nix/store/s2cfd5pncqx5vzspj74z2fdpb9wcbnmc-nixos-system-a.drv"
	for _, tc := range []struct {
		version string
		want    string
	}{
		{"nix (Nix) 2.8.0", drv},
		{"nix (Nix) 2.12.1", drv},
		{"nix (Nix) 2.13.0", drv + "^*"},
		{"nix (Nix) 2.18.5\n", drv + "^*"},
		{"nix (Determinate Nix 3.6.2) 2.29.0", drv + "^*"},
		{"nix (Nix) 3.0.0", drv + "^*"},
	} {
		v, err := ParseRelease(tc.version)
		if err != nil {
			t.Fatalf("%q: %v", tc.version, err)
		}
		if got := DrvInstallable(drv, v); got != tc.want {
			t.Errorf("%q: DrvInstallable = %q, want %q", tc.version, got, tc.want)
		}
		argv := Build([]string{DrvInstallable(drv, v)})
		if argv[len(argv)-1] != tc.want {
			t.Errorf("%q: build argv %v does not end with %q", tc.version, argv, tc.want)
		}
	}
	if _, err := ParseRelease("command not found"); err == nil {
		t.Error("garbage parsed as a version")
	}
}
