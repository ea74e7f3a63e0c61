package check

import (
	"context"
	"strings"
	"testing"

	"github.com/nixctl/nixctl/internal/execx"
	"github.com/nixctl/nixctl/internal/inventory"
	"github.com/nixctl/nixctl/internal/testutil"
)

// Fixture flakes with no inputs, checked by the real nix. Each host is a
// plain derivation standing in for nixpkgs.lib.nixosSystem.
const fixtureLib = `{ system ? "x86_64-linux" }: {
  host = name: cfg: {
    config.system.build.toplevel = derivation {
      name = "nixos-system-${name}-${cfg.hostName}";
      inherit system;
      builder = "/bin/sh";
      args = [ "-c" "echo ok > $out" ];
    };
  };
  # A module-system style type check: only evaluating the toplevel's
  # drvPath forces it, which nix flake check (2.8) does not.
  typed = name: cfg: {
    config.system.build.toplevel = derivation {
      name = "nixos-system-${name}";
      inherit system;
      builder = "/bin/sh";
      args = [ "-c" "echo ${if builtins.isString cfg.hostName then cfg.hostName else throw "The option networking.hostName is not of type string"} > $out" ];
    };
  };
  profile = name: {
    activationPackage = derivation {
      name = "home-manager-generation";
      inherit system;
      builder = "/bin/sh";
      args = [ "-c" "mkdir $out; echo 'echo activating ${name}' > $out/activate" ];
    };
  };
}
`

const fixtureInventory = `hosts:
  - {name: alpha, address: 10.0.0.1}
  - {name: beta, address: 10.0.0.2}
profiles:
  - {name: me}
`

func fixture(t *testing.T, flake string, extra map[string]string) *inventory.Fleet {
	t.Helper()
	files := map[string]string{"flake.nix": flake, "lib.nix": fixtureLib, "nixctl.yaml": fixtureInventory}
	for k, v := range extra {
		files[k] = v
	}
	dir := testutil.WriteTree(t, files)
	f, err := inventory.Parse(dir+"/nixctl.yaml", []byte(fixtureInventory))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func runReal(t *testing.T, f *inventory.Fleet, noBuild bool) *Report {
	t.Helper()
	testutil.Require(t, "nix")
	rep, err := Run(context.Background(), execx.NewReal(), f, Options{Hosts: f.Hosts, Profiles: f.Profiles, NoBuild: noBuild}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func item(t *testing.T, rep *Report, name string) Item {
	t.Helper()
	for _, it := range rep.Items {
		if it.Name == name {
			return it
		}
	}
	t.Fatalf("no item %q in %+v", name, rep.Items)
	return Item{}
}

func TestRealGreenFleet(t *testing.T) {
	f := fixture(t, `{
  outputs = { self }: let lib = import ./lib.nix {}; in {
    nixosConfigurations.alpha = lib.host "alpha" (import ./hosts/alpha.nix);
    nixosConfigurations.beta = lib.host "beta" { hostName = "beta"; };
    homeConfigurations.me = lib.profile "me";
    checks.x86_64-linux.fine = derivation { name = "fine"; system = "x86_64-linux"; builder = "/bin/sh"; args = [ "-c" "echo > $out" ]; };
  };
}`, map[string]string{"hosts/alpha.nix": `{ hostName = "alpha"; }`})
	rep := runReal(t, f, false)
	if !rep.OK() {
		t.Fatalf("green fleet failed: %+v", rep.Failed())
	}
	if len(rep.Items) != 4 {
		t.Errorf("want flake + 2 hosts + 1 profile, got %d items", len(rep.Items))
	}
	if d := item(t, rep, "alpha").DrvPath; !strings.HasPrefix(d, "/nix/store/") || !strings.HasSuffix(d, "-nixos-system-alpha-alpha.drv") {
		t.Errorf("alpha drvPath = %q", d)
	}
}

func TestRealEvaluationErrorNamesFileAndLine(t *testing.T) {
	f := fixture(t, `{
  outputs = { self }: let lib = import ./lib.nix {}; in {
    nixosConfigurations.alpha = lib.host "alpha" (import ./hosts/alpha.nix);
    nixosConfigurations.beta = lib.host "beta" { hostName = "beta"; };
    homeConfigurations.me = lib.profile "me";
  };
}`, map[string]string{"hosts/alpha.nix": "{\n  hostName = undefinedThing;\n}\n"})
	rep := runReal(t, f, true)
	alpha := item(t, rep, "alpha")
	if alpha.OK {
		t.Fatal("alpha must fail")
	}
	e := alpha.Errors[0]
	if e.File != "hosts/alpha.nix" || e.Line != 2 || e.Column == 0 || !strings.Contains(e.Message, "undefined variable 'undefinedThing'") {
		t.Errorf("error = %+v", e)
	}
	if strings.Contains(e.Message, "\x1b[") {
		t.Errorf("ANSI codes in %q", e.Message)
	}
	if !item(t, rep, "beta").OK || !item(t, rep, "me").OK {
		t.Error("the healthy host and profile must pass")
	}
}

// nix flake check 2.8 only checks that the toplevel is a derivation; the
// type error shows only when the drvPath is evaluated.
func TestRealTypeErrorOnlyDrvPathCatches(t *testing.T) {
	f := fixture(t, `{
  outputs = { self }: let lib = import ./lib.nix {}; in {
    nixosConfigurations.alpha = lib.typed "alpha" { hostName = 42; };
    nixosConfigurations.beta = lib.host "beta" { hostName = "beta"; };
    homeConfigurations.me = lib.profile "me";
  };
}`, nil)
	rep := runReal(t, f, true)
	if !item(t, rep, "nix flake check").OK {
		t.Fatalf("nix flake check was expected to miss the type error: %+v", item(t, rep, "nix flake check").Errors)
	}
	alpha := item(t, rep, "alpha")
	if alpha.OK || !strings.Contains(alpha.Errors[0].Message, "networking.hostName is not of type string") {
		t.Fatalf("alpha = %+v", alpha)
	}
	if alpha.Errors[0].File != "lib.nix" || alpha.Errors[0].Line == 0 {
		t.Errorf("location = %q", alpha.Errors[0].Location())
	}
}

func TestRealFailingCheckDerivation(t *testing.T) {
	f := fixture(t, `{
  outputs = { self }: let lib = import ./lib.nix {}; in {
    nixosConfigurations.alpha = lib.host "alpha" { hostName = "alpha"; };
    nixosConfigurations.beta = lib.host "beta" { hostName = "beta"; };
    homeConfigurations.me = lib.profile "me";
    checks.x86_64-linux.broken = derivation {
      name = "broken-check";
      system = "x86_64-linux"; builder = "/bin/sh";
      args = [ "-c" "echo the test suite failed >&2; exit 1" ];
    };
  };
}`, nil)
	rep := runReal(t, f, false)
	fc := item(t, rep, "nix flake check")
	if fc.OK {
		t.Fatal("the failing check derivation must fail nix flake check")
	}
	if !strings.Contains(fc.Summary(), "broken-check") {
		t.Errorf("summary %q does not name the failing check", fc.Summary())
	}
	if !item(t, rep, "alpha").OK {
		t.Error("hosts still evaluate")
	}
	// --no-build skips building checks: the flake passes.
	if rep := runReal(t, f, true); !item(t, rep, "nix flake check").OK {
		t.Errorf("--no-build must not build the failing check: %+v", item(t, rep, "nix flake check").Errors)
	}
}

func TestRealAgree(t *testing.T) {
	testutil.Require(t, "nix")
	f := fixture(t, `{
  outputs = { self }: let lib = import ./lib.nix {}; in {
    nixosConfigurations.alpha = lib.host "alpha" { hostName = "alpha"; };
    nixosConfigurations.gamma = lib.host "gamma" { hostName = "gamma"; };
  };
}`, nil)
	a, err := Agree(context.Background(), execx.NewReal(), f)
	if err != nil {
		t.Fatal(err)
	}
	var missing, unlisted []string
	for _, m := range a.Missing {
		missing = append(missing, m.Name)
	}
	for _, m := range a.Unlisted {
		unlisted = append(unlisted, m.Attr)
	}
	if strings.Join(missing, ",") != "beta,me" || strings.Join(unlisted, ",") != "gamma" {
		t.Errorf("missing %v unlisted %v", missing, unlisted)
	}
}
