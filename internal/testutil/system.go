package testutil

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// StoreSystem adds a stand-in NixOS system named name to the real store:
// its bin/switch-to-configuration points /run/current-system at itself,
// then runs step (shell, "" for nothing). Activate it on a host with
// (*SSHD).ActivateSystem.
func StoreSystem(t testing.TB, name, step string) string {
	t.Helper()
	Require(t, "nix-store")
	dir := filepath.Join(t.TempDir(), name)
	stc := "#!/bin/sh\nself=$(cd \"$(dirname \"$0\")/..\" && pwd -P)\nln -sfn \"$self\" /run/current-system\n" + step + "\n"
	WriteFiles(t, dir, map[string]string{"bin/switch-to-configuration": stc, "nixos-version": name})
	if err := os.Chmod(filepath.Join(dir, "bin/switch-to-configuration"), 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("nix-store", "--add", dir).Output()
	if err != nil {
		t.Fatalf("nix-store --add: %v", err)
	}
	return strings.TrimSpace(string(out))
}

// ActivateSystem does on the host what nixos-rebuild switch does there: the
// system profile gets system as a new generation, then its
// switch-to-configuration switch runs. The host needs OwnSystem.
func (s *SSHD) ActivateSystem(system string) error {
	argv := s.InHost("sh", "-c", `nix-env -p /nix/var/nix/profiles/system --set "$1" && "$1/bin/switch-to-configuration" switch`, "activate", system)
	if out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput(); err != nil {
		return fmt.Errorf("activating %s: %w: %s", system, err, out)
	}
	return nil
}

// RefuseLogins is a switch-to-configuration step that takes the host's
// authorized_keys away (the new system's sshd lets nobody in);
// AllowLogins puts them back.
func (s *SSHD) RefuseLogins() string {
	k := filepath.Join(s.Dir, "authorized_keys")
	return fmt.Sprintf("mv %s %s.off", k, k)
}

// AllowLogins: see RefuseLogins.
func (s *SSHD) AllowLogins() string {
	k := filepath.Join(s.Dir, "authorized_keys")
	return fmt.Sprintf("if [ -e %[1]s.off ]; then mv %[1]s.off %[1]s; fi", k)
}
