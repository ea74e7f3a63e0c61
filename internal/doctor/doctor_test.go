package doctor

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/nixctl/nixctl/internal/execx"
	"github.com/nixctl/nixctl/internal/inventory"
	"github.com/nixctl/nixctl/internal/secrets"
)

func find(t *testing.T, fs []Finding, name string) Finding {
	t.Helper()
	for _, f := range fs {
		if f.Name == name {
			return f
		}
	}
	t.Fatalf("no finding %q in %+v", name, fs)
	return Finding{}
}

func TestDoctorHealthyMachine(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	keys := filepath.Join(home, ".config", "sops", "age", "keys.txt")
	if err := os.MkdirAll(filepath.Dir(keys), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keys, []byte("AGE-SECRET-KEY-1X\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(home, ".ssh"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, ".ssh", "id_ed25519"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	rec := &execx.Recorder{Paths: map[string]string{"nix": "/bin/nix", "git": "/bin/git", "nixos-rebuild": "/bin/nixos-rebuild"}}
	rec.Register([]string{"nix", "--version"}, "nix (Nix) 2.18.1\n", 0)
	rec.Register([]string{"nix", "--extra-experimental-features", "nix-command", "show-config"}, "cores = 0\nexperimental-features = flakes nix-command\n", 0)
	rec.RegisterStub(&execx.Stub{Prefix: []string{"nixos-rebuild", "--nixctl-flavour-probe"}, Stderr: "error: unknown option `--nixctl-flavour-probe'\n", ExitCode: 1})
	repo := t.TempDir()
	if err := os.WriteFile(filepath.Join(repo, "flake.nix"), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	fleet := &inventory.Fleet{File: filepath.Join(repo, "nixctl.yaml"), Dir: repo, Flake: repo, Hosts: []inventory.Host{{Name: "a"}}}
	fs := Run(context.Background(), Env{Runner: rec, Home: home, Fleet: fleet})
	rec.Verify(t)
	if Failed(fs) {
		t.Errorf("healthy machine failed: %+v", fs)
	}
	for _, name := range []string{"nix", "flakes", "inventory", "flake", "git", "nixos-rebuild", "age key", "ssh"} {
		if f := find(t, fs, name); f.Status != OK {
			t.Errorf("%s = %+v", name, f)
		}
	}
	if d := find(t, fs, "nix").Detail; d != "nix (Nix) 2.18.1" {
		t.Errorf("nix detail %q", d)
	}
	if d := find(t, fs, "nixos-rebuild").Detail; d != "/bin/nixos-rebuild (bash)" {
		t.Errorf("nixos-rebuild detail %q", d)
	}

	// An ng whose usage lists --store-path says so.
	rec.RegisterStub(&execx.Stub{Prefix: []string{"nixos-rebuild", "--nixctl-flavour-probe"}, ExitCode: 2,
		Stderr: "usage: nixos-rebuild [-h] [--flake [FLAKE]] [--store-path STORE_PATH] [--sudo]\nnixos-rebuild: error: unrecognized arguments: --nixctl-flavour-probe\n"})
	fs = Run(context.Background(), Env{Runner: rec, Home: home, Fleet: fleet})
	if d := find(t, fs, "nixos-rebuild").Detail; d != "/bin/nixos-rebuild (ng, with --store-path)" {
		t.Errorf("nixos-rebuild detail %q", d)
	}
}

func TestDoctorBareMachine(t *testing.T) {
	t.Parallel()
	rec := &execx.Recorder{}
	fs := Run(context.Background(), Env{Runner: rec, Home: t.TempDir(), FleetErr: errors.New("no nixctl.yaml found in /x")})
	if !Failed(fs) {
		t.Fatal("no nix and no inventory must fail")
	}
	for name, status := range map[string]string{"nix": Fail, "inventory": Fail, "age key": Warn, "ssh": Warn, "nixos-rebuild": Warn} {
		f := find(t, fs, name)
		if f.Status != status || f.Hint == "" {
			t.Errorf("%s = %+v, want %s with a hint", name, f, status)
		}
	}
	if len(rec.Calls()) != 0 {
		t.Errorf("nix is missing, yet ran: %v", rec.Argvs())
	}
}

func TestDoctorFlakesDisabledAndAgeKeyFromEnv(t *testing.T) {
	t.Parallel()
	rec := &execx.Recorder{Paths: map[string]string{"nix": "/bin/nix"}}
	rec.Register([]string{"nix", "--version"}, "nix (Nix) 2.8.0\n", 0)
	rec.Register([]string{"nix", "--extra-experimental-features"}, "experimental-features = \n", 0)
	fs := Run(context.Background(), Env{Runner: rec, Keys: secrets.Env{AgeKey: "AGE-SECRET-KEY-1X"}, Home: t.TempDir(), Fleet: &inventory.Fleet{}})
	if f := find(t, fs, "flakes"); f.Status != Warn || f.Hint == "" {
		t.Errorf("flakes = %+v", f)
	}
	if f := find(t, fs, "age key"); f.Status != OK {
		t.Errorf("age key = %+v", f)
	}
}

func TestExperimentalFeatures(t *testing.T) {
	t.Parallel()
	got := ExperimentalFeatures("allowed-users = *\nexperimental-features = flakes nix-command\nextra = x\n")
	if len(got) != 2 || got[0] != "flakes" {
		t.Errorf("got %v", got)
	}
}
