package nix

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestLockMissing(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if LockMissing(dir, "/") {
		t.Error("a directory with no flake.nix has no lock to write")
	}
	if err := os.WriteFile(filepath.Join(dir, "flake.nix"), []byte("{ outputs = _: {}; }"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{dir, "path:" + dir, "git+file://" + dir + "?ref=main", filepath.Base(dir)} {
		if !LockMissing(ref, filepath.Dir(dir)) {
			t.Errorf("%s: flake.lock is missing but LockMissing says no", ref)
		}
	}
	if LockMissing("github:NixOS/nixpkgs", dir) {
		t.Error("a remote flake is locked by nix, not in a directory of ours")
	}
	if err := os.WriteFile(filepath.Join(dir, "flake.lock"), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	if LockMissing(dir, "/") {
		t.Error("flake.lock exists")
	}
}

func TestFlakeCheckBesideAnEvaluationOnlyReadsTheLock(t *testing.T) {
	t.Parallel()
	if slices.Contains(FlakeCheck(".", FlakeCheckOptions{}), NoWriteLockFile) {
		t.Error("a flake check alone must write flake.lock as nix flake check does")
	}
	if !slices.Contains(FlakeCheck(".", FlakeCheckOptions{ReadLock: true}), NoWriteLockFile) {
		t.Error("a flake check beside an evaluation must not write flake.lock")
	}
}

func TestGetFlakeRefSeesWhatTheCommandLineSees(t *testing.T) {
	t.Parallel()
	plain := t.TempDir()
	if ref, sub := GetFlakeRef(plain); ref != plain || sub != "" {
		t.Errorf("outside git: %q %q, want the path itself", ref, sub)
	}
	repo := t.TempDir()
	if err := os.Mkdir(filepath.Join(repo, ".git"), 0o755); err != nil {
		t.Fatal(err)
	}
	if ref, sub := GetFlakeRef(repo); ref != "git+file://"+repo || sub != "" {
		t.Errorf("git root: %q %q", ref, sub)
	}
	deep := filepath.Join(repo, "infra", "fleet")
	if ref, sub := GetFlakeRef(deep); ref != "git+file://"+repo+"?dir=infra/fleet" || sub != "infra/fleet" {
		t.Errorf("subdirectory: %q %q", ref, sub)
	}
	if ref, _ := GetFlakeRef("github:NixOS/nixpkgs"); ref != "github:NixOS/nixpkgs" {
		t.Errorf("a reference is kept: %q", ref)
	}
}

// Nix writes no lock for a flake without inputs: nothing to wait for.
func TestMayHaveInputs(t *testing.T) {
	for text, want := range map[string]bool{
		`{ outputs = { self }: { }; }`:                                     false,
		`{ outputs = args@{ self, ... }: { }; }`:                           false,
		`{ outputs = { self, nixpkgs }: { }; }`:                            true,
		`{ outputs = { self, nixpkgs ? null }: { }; }`:                     true,
		`{ inputs.dep.url = "path:/x"; outputs = { self, ... }@i: { }; }`:  true,
		`{ outputs = inputs@{ self, ... }: { }; }`:                         true,
		`{ outputs = _: { }; }`:                                            true,
		"{\n  outputs =\n    { self\n    , home-manager\n    }: { };\n}\n": true,
	} {
		if got := mayHaveInputs([]byte(text)); got != want {
			t.Errorf("%s: %v, want %v", text, got, want)
		}
	}
}
