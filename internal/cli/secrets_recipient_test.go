package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/nixctl/nixctl/internal/exitcode"
	"github.com/nixctl/nixctl/internal/testutil"
)

// splitSopsConfig is the layout nixctl init writes: the servers' secrets and
// the users' own secrets under separate rules.
func splitSopsConfig(user string) string {
	return fmt.Sprintf(`# who can read what
keys:
  - &gabriel %s
creation_rules:
  # servers
  - path_regex: ^secrets/server/
    key_groups:
      - age:
          - *gabriel
  # your machines
  - path_regex: ^secrets/(home\.yaml|kubeconfig/[^/]+\.yml)$
    key_groups:
      - age:
          - *gabriel
`, user)
}

var recipientRe = regexp.MustCompile(`age1[0-9a-z]{58}`)

// sopsWith runs the real sops with one age key file.
func sopsWith(keyFile string, args ...string) ([]byte, error) {
	cmd := exec.Command("sops", args...)
	cmd.Env = append(os.Environ(), "SOPS_AGE_KEY_FILE="+keyFile)
	return cmd.CombinedOutput()
}

// newSplitFleet is a fleet whose .sops.yaml keeps the servers' and the
// users' secrets under separate rules, with a kubeconfig and a server
// secret in it; it returns the fleet, the user's recipient and both files.
func newSplitFleet(t *testing.T) (f *secretsFleet, user, kube, server string) {
	t.Helper()
	f = newSecretsFleet(t)
	user = recipientRe.FindString(f.mustRun("", "secrets", "init"))
	testutil.WriteFile(t, filepath.Join(f.dir, ".sops.yaml"), []byte(splitSopsConfig(user)), 0o644)
	kube = f.addKubeconfig()
	f.mustRun("password: hunter2\n", "secrets", "add", "server", "db", "--from", "-")
	return f, user, kube, filepath.Join(f.dir, "secrets", "server", "db.yml")
}

func TestSecretsRecipientSecondMachine(t *testing.T) {
	testutil.Require(t, "sops")
	f, user, kube, server := newSplitFleet(t)
	userKey := filepath.Join(f.home, ".config", "sops", "age", "keys.txt")
	// A file a colleague encrypted by hand for one more reader: its
	// recipients differ from its rule.
	colleague := "age1cy0su9fwf3gf9mw868g5yut09p6nytfmmnktexz2ya5uqg9vl9sss4euqm"
	drift := filepath.Join(f.dir, "secrets", "kubeconfig", "drift.yml")
	plain := filepath.Join(t.TempDir(), "p.yml")
	testutil.WriteFile(t, plain, []byte("token: abc\n"), 0o600)
	enc, err := sopsWith(userKey, "-e", "--age", user+","+colleague, "--filename-override", "secrets/kubeconfig/drift.yml", plain)
	if err != nil {
		t.Fatalf("sops -e: %v %s", err, enc)
	}
	testutil.WriteFile(t, drift, enc, 0o644)
	serverBefore, driftBefore := readFile(t, server), readFile(t, drift)

	// The desktop runs init: it gets its own key and the command to run here.
	desktop := &secretsFleet{t: t, dir: f.dir, home: t.TempDir()}
	desktop.env = map[string]string{"HOME": desktop.home, "USER": "gabriel"}
	out, errs, code := desktop.run("", "secrets", "init", "--name", "desktop")
	desktopRec := recipientRe.FindString(out)
	want := "nixctl secrets recipient add desktop " + desktopRec
	if code != 0 || desktopRec == "" || !strings.Contains(out, want+"\n") || !strings.Contains(errs, "on a machine that can already decrypt") {
		t.Fatalf("second machine init: exit %d\n%s%s", code, out, errs)
	}
	desktopKey := filepath.Join(desktop.home, ".config", "sops", "age", "keys.txt")

	// Without a key here, nothing can be rekeyed: nothing is written.
	cfgBefore := readFile(t, filepath.Join(f.dir, ".sops.yaml"))
	kubeBefore := readFile(t, kube)
	_, errs, code = desktop.run("", strings.Fields(want)[1:]...)
	if code != exitcode.Secrets || !strings.Contains(errs, "secrets/kubeconfig/nixos-mini.yml") || !strings.Contains(errs, "nothing was written") {
		t.Errorf("rekey without a key: exit %d %s", code, errs)
	}
	if readFile(t, filepath.Join(f.dir, ".sops.yaml")) != cfgBefore || readFile(t, kube) != kubeBefore {
		t.Fatal("a failed recipient add wrote something")
	}

	// On the laptop, the printed command works as written.
	out, errs, code = f.run("", strings.Fields(want)[1:]...)
	if code != 0 {
		t.Fatalf("%s: exit %d\n%s%s", want, code, out, errs)
	}
	if !strings.Contains(errs, `desktop joins rule 2 (^secrets/(home\.yaml|kubeconfig/[^/]+\.yml)$)`) ||
		!strings.Contains(out, "secrets/kubeconfig/nixos-mini.yml: gains access: desktop") ||
		!strings.Contains(errs, "secrets/kubeconfig/drift.yml: left alone") {
		t.Errorf("recipient add output:\n%s%s", out, errs)
	}
	cfg := readFile(t, filepath.Join(f.dir, ".sops.yaml"))
	if !strings.Contains(cfg, "  - &desktop "+desktopRec+"\n") || strings.Count(cfg, "*desktop") != 1 || !strings.HasPrefix(cfg, "# who can read what\n") {
		t.Errorf(".sops.yaml:\n%s", cfg)
	}
	if readFile(t, server) != serverBefore || readFile(t, drift) != driftBefore {
		t.Error("files outside the rule, or drifted, were rewritten")
	}
	if out, err := sopsWith(desktopKey, "-d", kube); err != nil || !strings.Contains(string(out), "very-secret-token") {
		t.Errorf("the desktop cannot decrypt its kubeconfig with sops: %v %s", err, out)
	}
	if _, err := sopsWith(desktopKey, "-d", server); err == nil {
		t.Error("the desktop can decrypt a server secret")
	}

	// recipient list: who reads what, per name.
	out = f.mustRun("", "--json", "secrets", "recipient", "list")
	var readers []struct {
		Name, Recipient string
		Rules, Files    []string
	}
	if err := json.Unmarshal([]byte(out), &readers); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	got := map[string]string{}
	for _, r := range readers {
		got[r.Name] = strings.Join(r.Files, " ")
	}
	if got["desktop"] != "secrets/kubeconfig/nixos-mini.yml" || !strings.Contains(got["gabriel"], "secrets/server/db.yml") ||
		!strings.Contains(got[colleague[:12]+"…"+colleague[len(colleague)-4:]]+got[colleague], "secrets/kubeconfig/drift.yml") {
		t.Errorf("recipient list: %v\n%s", got, out)
	}

	// remove: the desktop's files are rekeyed with a new data key.
	out = f.mustRun("", "secrets", "recipient", "remove", "desktop")
	if !strings.Contains(out, "secrets/kubeconfig/nixos-mini.yml: loses access: desktop; data key rotated") {
		t.Errorf("recipient remove: %s", out)
	}
	if strings.Contains(readFile(t, filepath.Join(f.dir, ".sops.yaml")), "desktop") {
		t.Error(".sops.yaml still names desktop")
	}
	if _, err := sopsWith(desktopKey, "-d", kube); err == nil {
		t.Error("the removed desktop still decrypts the kubeconfig")
	}
	if out, err := sopsWith(userKey, "-d", kube); err != nil {
		t.Errorf("the user lost access: %v %s", err, out)
	}
	if readFile(t, drift) != driftBefore || readFile(t, server) != serverBefore {
		t.Error("remove rewrote files the desktop never read")
	}
}

// A host joins the rules of its own secrets (the inventory's default:
// the servers' files), never the users' kubeconfigs.
func TestSecretsAddHostJoinsItsRulesOnly(t *testing.T) {
	testutil.Require(t, "sops")
	f, _, kube, _ := newSplitFleet(t)
	kubeBefore := readFile(t, kube)
	hostPub := filepath.Join(t.TempDir(), "ssh_host_ed25519_key.pub")
	testutil.WriteFile(t, hostPub, []byte("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOHz+U0YtjINc54dZiJNclfmEFifF7RXCFlNlTbuZBji root@nixos-mini\n"), 0o644)
	out, errs, code := f.run("", "secrets", "add-host", "nixos-mini", "--key-file", hostPub)
	if code != 0 || !strings.Contains(errs, "added as nixos-mini to rule 1 (^secrets/server/)") || !strings.Contains(out, "secrets/server/db.yml: gains access: nixos-mini") {
		t.Fatalf("add-host: exit %d\n%s%s", code, out, errs)
	}
	if readFile(t, kube) != kubeBefore || strings.Contains(out, "kubeconfig") {
		t.Error("the host's key reached the kubeconfigs")
	}

	// secrets: in the inventory chooses other files.
	testutil.WriteFile(t, filepath.Join(f.dir, "nixctl.yaml"), []byte("hosts:\n  - name: nixos-mini\n    address: 127.0.0.1\n    secrets: [\"secrets/kubeconfig/*.yml\"]\n"), 0o644)
	f.mustRun("", "secrets", "remove-host", "nixos-mini")
	out = f.mustRun("", "secrets", "add-host", "nixos-mini", "--key-file", hostPub)
	if !strings.Contains(out, "secrets/kubeconfig/nixos-mini.yml: gains access: nixos-mini") || strings.Contains(out, "server/db.yml") {
		t.Errorf("add-host with secrets: %s", out)
	}
}
