package cli

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nixctl/nixctl/internal/exitcode"
	"github.com/nixctl/nixctl/internal/testutil"
)

// accessFlake declares sops-nix secrets the way the sops-nix modules expose
// them (config.sops.*), as plain attribute sets: no network input needed.
const accessFlake = `{
  outputs = { self }: {
    nixosConfigurations.nixos-mini.config.sops = {
      defaultSopsFile = ./secrets/server/db.yml;
      age.sshKeyPaths = [ "/etc/ssh/ssh_host_ed25519_key" ];
      secrets."db/password" = { key = "password"; };
      secrets.nested = { key = "app/port"; };
      secrets.missing-key = { key = "nope/deeper"; };
      secrets.kube = { sopsFile = ./secrets/kubeconfig/nixos-mini.yml; key = ""; };
      secrets.absent = { sopsFile = ./secrets/server/absent.yml; };
      secrets.outside = { sopsFile = "/run/keys/x.yaml"; };
      secrets.broken = throw "broken on purpose";
    };
    nixosConfigurations.unknown-key.config.sops.secrets.x = { sopsFile = ./secrets/server/db.yml; key = "password"; };
    nixosConfigurations.no-secrets.config.sops = { };
    nixosConfigurations.typeerr.config.sops.secrets.a = { sopsFile = 1 + "x"; };
    homeConfigurations.laptop.config.sops = {
      age.keyFile = "/home/gabriel/.config/sops/age/keys.txt";
      secrets."kubeconfig/nixos-mini" = { sopsFile = ./secrets/kubeconfig/nixos-mini.yml; format = "yaml"; key = ""; };
    };
    homeConfigurations.desktop.config.sops.secrets.k = { sopsFile = ./secrets/kubeconfig/nixos-mini.yml; key = ""; };
  };
}
`

func TestSecretsCheckWithRealNix(t *testing.T) {
	testutil.Require(t, "nix")
	f, _, _, _ := newSplitFleet(t)
	f.mustRun("password: hunter2\napp:\n  port: \"8080\"\n", "secrets", "add", "server", "db", "--from", "-", "--force")
	hostKey := testutil.NewEd25519Key(t)
	hostPub := testutil.AuthorizedKey(t, hostKey.Public())
	pubFile := filepath.Join(t.TempDir(), "ssh_host_ed25519_key.pub")
	testutil.WriteFile(t, pubFile, []byte(hostPub+"\n"), 0o644)
	inv := `hosts:
  - name: nixos-mini
    address: 127.0.0.1
  - name: unknown-key
    address: 127.0.0.1
    port: 1
  - name: no-secrets
    address: 127.0.0.1
  - name: typeerr
    address: 127.0.0.1
profiles:
  - name: laptop
    recipient: gabriel
  - name: desktop
    recipient: desktop
`
	testutil.WriteFile(t, filepath.Join(f.dir, "nixctl.yaml"), []byte(inv), 0o644)
	testutil.WriteFile(t, filepath.Join(f.dir, "flake.nix"), []byte(accessFlake), 0o644)
	f.mustRun("", "secrets", "add-host", "nixos-mini", "--key-file", pubFile)
	testutil.MkdirAll(t, filepath.Join(f.home, ".ssh"), 0o700)
	testutil.WriteFile(t, filepath.Join(f.home, ".ssh", "known_hosts"), []byte("127.0.0.1 "+hostPub+"\n"), 0o600)

	out, errs, code := f.run("", "secrets", "check")
	if code != exitcode.Secrets {
		t.Fatalf("exit %d, want %d\n%s%s", code, exitcode.Secrets, out, errs)
	}
	for _, want := range []string{
		"✓ db/password\tsecrets/server/db.yml",
		"✓ nested\tsecrets/server/db.yml",
		`✗ missing-key	secrets/server/db.yml has no key "nope/deeper"`,
		"✗ kube\tsecrets/kubeconfig/nixos-mini.yml is not encrypted for nixos-mini's key",
		"✗ absent\tsecrets/server/absent.yml does not exist",
		"✗ outside\t/run/keys/x.yaml is not a file of the repository",
		"✗ broken\tevaluating its declaration failed",
		"host nixos-mini: 7 secret(s) for age1",
		"(its ed25519 key in known_hosts)",
		"✗ host unknown-key: its host key is not in known_hosts",
		"✓ host no-secrets: no sops secrets declared",
		"✗ host typeerr: evaluating its configuration failed: flake.nix:16:74: cannot add a string to an integer",
		"✓ profile laptop: 1 secret(s) for age1",
		"✗ profile desktop: recipient desktop (nixctl.yaml) names no key in .sops.yaml",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
	if !strings.Contains(errs, "nixctl: error: ") || !strings.Contains(errs, "8 problem(s): a machine would fail to decrypt its secrets") || !strings.Contains(errs, "nixctl secrets add-host nixos-mini") ||
		!strings.Contains(errs, "nixctl secrets recipient add desktop") {
		t.Errorf("error lines:\n%s", errs)
	}
	if strings.Contains(out+errs, "hunter2") {
		t.Error("a secret value was printed")
	}

	// A host and a profile are read by one nix process.
	_, errs, code = f.run("", "-v", "secrets", "check", "laptop", "no-secrets")
	if n := strings.Count(errs, "debug: run: nix eval"); code != 0 || n != 1 {
		t.Errorf("exit %d, %d nix evaluations for a host and a profile, want 1:\n%s", code, n, errs)
	}

	// JSON for machines; the healthy ones pass alone.
	out, _, code = f.run("", "--json", "secrets", "check", "laptop", "no-secrets")
	var rep struct {
		OK       bool `json:"ok"`
		Machines []struct {
			Name string `json:"name"`
		} `json:"machines"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != 0 || !rep.OK || len(rep.Machines) != 2 {
		t.Errorf("healthy selection: exit %d %v\n%s", code, err, out)
	}
	out, _, code = f.run("", "--json", "secrets", "check", "nixos-mini")
	if code != exitcode.Secrets || !strings.Contains(out, `"ok": false`) {
		t.Errorf("json failure: exit %d\n%s", code, out)
	}
}

// deployAccessFlake's hosts build for real and declare sops-nix secrets:
// age.keyFile says the host brings its own key, so only the files and keys
// are checked (no host key to fetch).
const deployAccessFlake = `{
  outputs = { self }: let
    mk = name: secrets: {
      config.sops = { age.keyFile = "/var/lib/sops-nix/key.txt"; inherit secrets; };
      config.system.build.toplevel = derivation { name = "nixos-system-${name}"; system = "x86_64-linux"; builder = "/bin/sh"; args = [ "-c" "echo ${name} > $out" ]; };
    };
  in {
    nixosConfigurations.good = mk "good" { db = { sopsFile = ./secrets/server/db.yml; key = "password"; }; };
    nixosConfigurations.bad = mk "bad" { db = { sopsFile = ./secrets/server/absent.yml; }; };
  };
}
`

// deploy's check stage reads each host's sops-nix declarations in the same
// nix process as its toplevel: one evaluation for the whole run, and the
// host that would fail to decrypt stops before anything is built for it.
func TestDeployChecksSecretsInTheSameEvaluation(t *testing.T) {
	testutil.Require(t, "nix")
	f, _, _, _ := newSplitFleet(t)
	f.mustRun("password: hunter2\n", "secrets", "add", "server", "db", "--from", "-", "--force")
	testutil.WriteFile(t, filepath.Join(f.dir, "nixctl.yaml"), []byte("hosts:\n  - {name: good, address: 127.0.0.1}\n  - {name: bad, address: 127.0.0.1}\n"), 0o644)
	testutil.WriteFile(t, filepath.Join(f.dir, "flake.nix"), []byte(deployAccessFlake), 0o644)

	out, errs, code := f.run("", "-v", "--yes", "deploy", "--action", "build", "good", "bad")
	if code != exitcode.Partial {
		t.Fatalf("exit %d, want %d (bad fails, good builds)\n%s%s", code, exitcode.Partial, out, errs)
	}
	if !strings.Contains(out+errs, "secrets/server/absent.yml does not exist") {
		t.Errorf("bad's missing secret file is not reported:\n%s%s", out, errs)
	}
	if n := strings.Count(errs, "debug: run: nix eval"); n != 1 || !strings.Contains(errs, "builtins.getFlake") {
		t.Errorf("%d nix evaluations, want 1 that reads the toplevels and the secrets together:\n%s", n, errs)
	}
	builds := 0
	for _, line := range strings.Split(errs, "\n") {
		if strings.Contains(line, "debug: run: nix build") {
			builds++
			if strings.Contains(line, "nixos-system-bad") || !strings.Contains(line, "nixos-system-good.drv") {
				t.Errorf("the build must build good's evaluated derivation only: %s", line)
			}
		}
	}
	if builds != 1 {
		t.Errorf("%d builds, want 1:\n%s", builds, errs)
	}
}
