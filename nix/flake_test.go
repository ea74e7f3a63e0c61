package nixfiles

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nixctl/nixctl/internal/testutil"
)

// flakeCopy copies this repository's flake.nix and nix/ files into a temp
// dir, with the nixpkgs input pointed at testdata/stub-nixpkgs, and returns
// (the flake's dir, the stub's dir).
func flakeCopy(t *testing.T) (string, string) {
	t.Helper()
	root := testutil.RepoRoot(t)
	dir := t.TempDir()
	stub := testutil.CopyDir(t, filepath.Join(root, "nix", "testdata", "stub-nixpkgs"))
	flake, err := os.ReadFile(filepath.Join(root, "flake.nix"))
	if err != nil {
		t.Fatal(err)
	}
	const url = `inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-26.05";`
	if !strings.Contains(string(flake), url) {
		t.Fatalf("flake.nix no longer has %s; update this test", url)
	}
	flake = []byte(strings.Replace(string(flake), url, `inputs.nixpkgs.url = "path:`+stub+`";`, 1))
	testutil.WriteFiles(t, dir, map[string]string{"flake.nix": string(flake)})
	for _, sub := range []string{"template", "demo"} {
		if err := os.CopyFS(filepath.Join(dir, "nix", sub), os.DirFS(filepath.Join(root, "nix", sub))); err != nil {
			t.Fatal(err)
		}
	}
	pkg, err := os.ReadFile(filepath.Join(root, "nix", "package.nix"))
	if err != nil {
		t.Fatal(err)
	}
	testutil.WriteFiles(t, dir, map[string]string{"nix/package.nix": string(pkg)})
	// builtins.getFlake wants a lock file; locking a path: input is offline.
	if out, err := exec.Command("nix", "--extra-experimental-features", "nix-command flakes", "flake", "lock", "path:"+dir).CombinedOutput(); err != nil {
		t.Fatalf("nix flake lock: %v: %s", err, out)
	}
	return dir, stub
}

func nixEval(t *testing.T, expr string) ([]byte, error) {
	t.Helper()
	cmd := exec.Command("nix", "--extra-experimental-features", "nix-command flakes", "eval", "--json", "--impure", "--expr", expr)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, &evalError{err: err, stderr: stderr.String()}
	}
	return out, nil
}

type evalError struct {
	err    error
	stderr string
}

func (e *evalError) Error() string { return e.err.Error() + ": " + e.stderr }

// Every output of flake.nix, evaluated with real nix against a stand-in
// nixpkgs: the names, the wiring, and what nix/package.nix would build.
func TestFlakeOutputs(t *testing.T) {
	testutil.Require(t, "nix")
	dir, stub := flakeCopy(t)
	out, err := nixEval(t, `
let
  f = builtins.getFlake "path:`+dir+`";
  sys = "x86_64-linux";
  pkg = f.packages.${sys}.nixctl;
  stubPkgs = (builtins.getFlake "path:`+stub+`").legacyPackages.${sys};
in {
  systems = builtins.attrNames f.packages;
  packages = builtins.attrNames f.packages.${sys};
  sameDefault = f.packages.${sys}.default.outPath == pkg.outPath;
  app = f.apps.${sys}.default;
  shell = map (p: p.name) f.devShells.${sys}.default.packages;
  formatter = f.formatter.${sys}.name;
  overlay = (f.overlays.default stubPkgs stubPkgs).nixctl.pname;
  templates = builtins.mapAttrs (n: t: builtins.pathExists (t.path + "/flake.nix")) f.templates;
  inherit (pkg) pname version ldflags vendorHash subPackages postInstall;
  cgo = pkg.env.CGO_ENABLED;
}`)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Systems, Packages []string
		SameDefault       bool
		App               struct{ Type, Program string }
		Shell             []string
		Formatter         string
		Overlay           string
		Templates         map[string]bool
		Pname, Version    string
		Ldflags           []string
		VendorHash        string
		SubPackages       []string
		PostInstall       string
		Cgo               int
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if strings.Join(got.Systems, " ") != "aarch64-darwin aarch64-linux x86_64-darwin x86_64-linux" {
		t.Errorf("systems = %v", got.Systems)
	}
	if strings.Join(got.Packages, " ") != "default nixctl" || !got.SameDefault {
		t.Errorf("packages = %v (default is nixctl: %v)", got.Packages, got.SameDefault)
	}
	if got.App.Type != "app" || !strings.HasSuffix(got.App.Program, "-nixctl-dev/bin/nixctl") {
		t.Errorf("apps.default = %+v", got.App)
	}
	if strings.Join(got.Shell, " ") != "go-1.26.8 gopls sops age ssh-to-age nix" {
		t.Errorf("devShell packages = %v", got.Shell)
	}
	if got.Formatter != "nixfmt" || got.Overlay != "nixctl" {
		t.Errorf("formatter = %q, overlay gives %q", got.Formatter, got.Overlay)
	}
	if !got.Templates["default"] || !got.Templates["demo"] || len(got.Templates) != 2 {
		t.Errorf("templates = %v (each must be a directory with a flake.nix)", got.Templates)
	}
	if got.Pname != "nixctl" || got.Version != "dev" || got.Cgo != 0 || strings.Join(got.SubPackages, " ") != "cmd/nixctl" {
		t.Errorf("package = %s %s, subPackages %v, CGO_ENABLED %d", got.Pname, got.Version, got.SubPackages, got.Cgo)
	}
	if strings.Join(got.Ldflags, " ") != "-s -w -X github.com/nixctl/nixctl/internal/cli.Version=dev" {
		t.Errorf("ldflags = %q", got.Ldflags)
	}
	if !strings.HasPrefix(got.VendorHash, "sha256-") {
		t.Errorf("vendorHash = %q", got.VendorHash)
	}
	for _, want := range []string{"installShellCompletion --cmd nixctl", "nixctl completion bash", "nixctl completion zsh", "nixctl completion fish", "$out/bin/nixctl man man", "installManPage man/*.1"} {
		if !strings.Contains(got.PostInstall, want) {
			t.Errorf("postInstall lacks %q", want)
		}
	}
}

// package.nix refuses, at evaluation, a Go older than go.mod's go line.
func TestPackageRefusesAnOldGo(t *testing.T) {
	testutil.Require(t, "nix")
	dir, stub := flakeCopy(t)
	call := func(goVersion string) error {
		_, err := nixEval(t, `
let
  pkgs = import `+stub+`/pkgs.nix { lib = import `+stub+`/lib.nix; system = "x86_64-linux"; };
in (pkgs.callPackage `+dir+`/nix/package.nix {
  buildGoModule = pkgs.buildGo126Module;
  go = { version = "`+goVersion+`"; };
}).name`)
		return err
	}
	err := call("1.25.7")
	if err == nil || !strings.Contains(err.Error(), "nixctl needs Go 1.25.8 or newer (go.mod); this nixpkgs gives 1.25.7") {
		t.Errorf("Go 1.25.7: err = %v", err)
	}
	if err := call("1.25.8"); err != nil {
		t.Errorf("Go 1.25.8 refused: %v", err)
	}
}
