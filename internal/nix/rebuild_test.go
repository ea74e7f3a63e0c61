package nix

import (
	"strings"
	"testing"
)

func TestRebuildArgv(t *testing.T) {
	t.Parallel()
	base := RebuildOptions{Flake: "/fleet", Attr: "web-1", TargetHost: "root@10.0.0.1", Flavour: FlavourBash}
	with := func(f func(o *RebuildOptions)) RebuildOptions {
		o := base
		f(&o)
		return o
	}
	cases := []struct {
		name string
		o    RebuildOptions
		want string
	}{
		{"switch", with(func(o *RebuildOptions) { o.Action = "switch" }),
			"nixos-rebuild switch --flake /fleet#web-1 --target-host root@10.0.0.1"},
		{"boot", with(func(o *RebuildOptions) { o.Action = "boot" }),
			"nixos-rebuild boot --flake /fleet#web-1 --target-host root@10.0.0.1"},
		{"test", with(func(o *RebuildOptions) { o.Action = "test" }),
			"nixos-rebuild test --flake /fleet#web-1 --target-host root@10.0.0.1"},
		{"dry-activate", with(func(o *RebuildOptions) { o.Action = "dry-activate" }),
			"nixos-rebuild dry-activate --flake /fleet#web-1 --target-host root@10.0.0.1"},
		{"build has no target", with(func(o *RebuildOptions) { o.Action = "build"; o.TargetHost = ""; o.Sudo = true }),
			"nixos-rebuild build --flake /fleet#web-1"},
		{"bash sudo", with(func(o *RebuildOptions) { o.Action = "switch"; o.Sudo = true; o.TargetHost = "deploy@h" }),
			"nixos-rebuild switch --flake /fleet#web-1 --target-host deploy@h --use-remote-sudo"},
		{"ng sudo", with(func(o *RebuildOptions) {
			o.Action = "switch"
			o.Sudo = true
			o.Flavour = FlavourNG
			o.TargetHost = "deploy@h"
		}),
			"nixos-rebuild switch --flake /fleet#web-1 --target-host deploy@h --sudo"},
		{"ng without sudo", with(func(o *RebuildOptions) { o.Action = "boot"; o.Flavour = FlavourNG }),
			"nixos-rebuild boot --flake /fleet#web-1 --target-host root@10.0.0.1"},
		{"build host", with(func(o *RebuildOptions) { o.Action = "switch"; o.BuildHost = "builder@10.0.0.9" }),
			"nixos-rebuild switch --flake /fleet#web-1 --target-host root@10.0.0.1 --build-host builder@10.0.0.9"},
		{"build host and ng sudo", with(func(o *RebuildOptions) {
			o.Action = "test"
			o.BuildHost = "b@x"
			o.Sudo = true
			o.Flavour = FlavourNG
		}), "nixos-rebuild test --flake /fleet#web-1 --target-host root@10.0.0.1 --build-host b@x --sudo"},
		{"rollback", with(func(o *RebuildOptions) { o.Action = "switch"; o.Rollback = true; o.Sudo = true }),
			"nixos-rebuild switch --rollback --flake /fleet#web-1 --target-host root@10.0.0.1 --use-remote-sudo"},
		{"store path replaces the flake", with(func(o *RebuildOptions) {
			o.Action = "switch"
			o.StorePath = "/nix/store/abc-nixos-system-web-1"
			o.Sudo = true
			o.Flavour = FlavourNG
			o.Substitutes = true
			o.Extra = []string{"--show-trace"}
		}), "nixos-rebuild switch --store-path /nix/store/abc-nixos-system-web-1 --target-host root@10.0.0.1 --sudo --use-substitutes --show-trace"},
		{"ipv6 target and odd attr", with(func(o *RebuildOptions) { o.Action = "switch"; o.Attr = "db.main"; o.TargetHost = "root@[fe80::1]" }),
			"nixos-rebuild switch --flake /fleet#db.main --target-host root@[fe80::1]"},
	}
	for _, c := range cases {
		if got := strings.Join(Rebuild(c.o), " "); got != c.want {
			t.Errorf("%s:\n got %s\nwant %s", c.name, got, c.want)
		}
	}
}

func TestParseProbe(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		code   int
		stderr string
		want   Flavour
		ok     bool
	}{
		{"bash", 1, "unknown option `--nixctl-flavour-probe'\n", FlavourBash, true},
		{"ng", 2, "usage: nixos-rebuild [--verbose] …\nnixos-rebuild: error: unrecognized arguments: --nixctl-flavour-probe\n", FlavourNG, true},
		{"ng usage only", 2, "usage: nixos-rebuild [-h]\n", FlavourNG, true},
		{"something else", 127, "command not found", FlavourBash, false},
	}
	for _, c := range cases {
		got, ok := ParseProbe(c.code, c.stderr)
		if got != c.want || ok != c.ok {
			t.Errorf("%s: got %s %v, want %s %v", c.name, got, ok, c.want, c.ok)
		}
	}
}

func TestSSHOpts(t *testing.T) {
	t.Parallel()
	got, err := SSHOpts([]string{"-o", "ConnectTimeout=5", "-p", "2222", "-i", "/k/id"})
	if err != nil || got != "-o ConnectTimeout=5 -p 2222 -i /k/id" {
		t.Errorf("got %q, %v", got, err)
	}
	if _, err := SSHOpts([]string{"-i", "/my keys/id"}); err == nil {
		t.Error("a path with a space must be refused")
	}
}

func TestProbeHasStorePath(t *testing.T) {
	t.Parallel()
	const ngUsage = "usage: nixos-rebuild [-h] [--verbose] [--flake [FLAKE]] [--store-path STORE_PATH] [--sudo]\n"
	cases := []struct {
		name   string
		code   int
		stderr string
		want   bool
	}{
		{"ng with --store-path", 2, ngUsage + "nixos-rebuild: error: unrecognized arguments: --nixctl-flavour-probe\n", true},
		{"ng in a group", 2, "usage: nixos-rebuild [--flake [FLAKE] | --store-path STORE_PATH]\n", true},
		{"older ng", 2, "usage: nixos-rebuild [-h] [--flake [FLAKE]] [--sudo]\nnixos-rebuild: error: unrecognized arguments: --nixctl-flavour-probe\n", false},
		// Only the usage text counts, not the flag echoed back as refused.
		{"ng refusing it", 2, "usage: nixos-rebuild [-h]\nnixos-rebuild: error: unrecognized arguments: --store-path-x\n", false},
		{"bash", 1, "unknown option `--nixctl-flavour-probe'\n", false},
		{"bash mentioning it", 1, "nixos-rebuild: unknown option `--store-path'\n", false},
	}
	for _, c := range cases {
		if got := ProbeHasStorePath(c.code, c.stderr); got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, got, c.want)
		}
	}
}
