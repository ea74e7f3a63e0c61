package cli

import (
	"encoding/json"
	"fmt"
	"github.com/nixctl/nixctl/internal/secrets"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/nixctl/nixctl/internal/exitcode"
	"github.com/nixctl/nixctl/internal/testutil"
)

// k0sStandIn answers `k0s kubeconfig admin` as a k0s controller does, with
// the client key given; anything else fails like an unknown k0s command.
func k0sStandIn(t *testing.T, key string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "nixctl-k0s-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	script := fmt.Sprintf(`#!/bin/sh
[ "$1 $2" = "kubeconfig admin" ] || { echo "Error: unknown command \"$*\" for \"k0s\"" >&2; exit 1; }
cat <<'EOF'
%sEOF
`, testutil.K0sAdminKubeconfig(key))
	if err := os.WriteFile(filepath.Join(dir, "k0s"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// sopsDecrypt decrypts a file with the real sops and the fleet user's key.
func sopsDecrypt(t *testing.T, f *secretsFleet, path string) string {
	t.Helper()
	cmd := exec.Command("sops", "-d", path)
	cmd.Env = append(os.Environ(), "SOPS_AGE_KEY_FILE="+filepath.Join(f.home, ".config", "sops", "age", "keys.txt"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("sops -d %s: %v\n%s", path, err, out)
	}
	return string(out)
}

// sopsAgeStanza is the file's encrypted data key for its first recipient:
// unchanged when the data key is kept.
func sopsAgeStanza(t *testing.T, path string) string {
	t.Helper()
	var doc struct {
		Sops struct {
			Age []struct {
				Enc string `yaml:"enc"`
			} `yaml:"age"`
		} `yaml:"sops"`
	}
	if err := yaml.Unmarshal([]byte(readFile(t, path)), &doc); err != nil || len(doc.Sops.Age) == 0 {
		t.Fatalf("%s has no age stanza: %v", path, err)
	}
	return doc.Sops.Age[0].Enc
}

// k0sFleet is a secrets fleet whose host nixos-mini is a real sshd with a
// stand-in k0s in bin on its PATH; its host key is not known yet.
func k0sFleet(t *testing.T) (f *secretsFleet, sshd *testutil.SSHD, bin string) {
	t.Helper()
	testutil.Require(t, "sops")
	bin = k0sStandIn(t, "S0VZMQo=")
	sshd = testutil.StartSSHD(t, testutil.SSHDOptions{Env: map[string]string{"PATH": bin + ":/usr/bin:/bin"}})
	f = newSecretsFleet(t)
	inv := fmt.Sprintf("hosts:\n  - name: nixos-mini\n    address: 127.0.0.1\n    port: %d\n    identity: %s\n", sshd.Port, sshd.ClientKeyFile)
	testutil.WriteFile(t, filepath.Join(f.dir, "nixctl.yaml"), []byte(inv), 0o644)
	f.mustRun("", "secrets", "init")
	return f, sshd, bin
}

// trustHost puts sshd's host key in the fleet user's known_hosts.
func trustHost(t *testing.T, f *secretsFleet, sshd *testutil.SSHD) {
	t.Helper()
	testutil.MkdirAll(t, filepath.Join(f.home, ".ssh"), 0o700)
	testutil.WriteFile(t, filepath.Join(f.home, ".ssh", "known_hosts"), []byte(readFile(t, sshd.KnownHostsFile)), 0o600)
}

func TestSecretsAddKubeconfigFromHost(t *testing.T) {
	f, sshd, bin := k0sFleet(t)

	// An unknown host key stops the fetch before anything runs.
	_, errs, code := f.run("", "secrets", "add", "kubeconfig", "--from-host", "nixos-mini")
	if code == 0 || !strings.Contains(errs, "nixctl: hint:") || !strings.Contains(errs, "known_hosts") {
		t.Fatalf("unknown host key: exit %d\n%s", code, errs)
	}
	trustHost(t, f, sshd)

	tmpBefore, _ := os.ReadDir(os.TempDir())
	out := f.mustRun("", "secrets", "add", "kubeconfig", "--from-host", "nixos-mini")
	if !strings.Contains(out, `sops.secrets."kubeconfig/nixos-mini"`) {
		t.Errorf("no sops-nix declaration printed:\n%s", out)
	}
	file := filepath.Join(f.dir, "secrets", "kubeconfig", "nixos-mini.yml")
	if strings.Contains(readFile(t, file), "S0VZMQo=") {
		t.Fatal("the client key is stored in plaintext")
	}
	plain := sopsDecrypt(t, f, file)
	var kc struct {
		Clusters []struct {
			Name    string `yaml:"name"`
			Cluster struct {
				Server string `yaml:"server"`
			} `yaml:"cluster"`
		} `yaml:"clusters"`
		Current string `yaml:"current-context"`
		Users   []struct {
			Name string `yaml:"name"`
			User struct {
				Key string `yaml:"client-key-data"`
			} `yaml:"user"`
		} `yaml:"users"`
	}
	if err := yaml.Unmarshal([]byte(plain), &kc); err != nil {
		t.Fatal(err)
	}
	if kc.Clusters[0].Cluster.Server != "https://127.0.0.1:6443" || kc.Clusters[0].Name != "nixos-mini" || kc.Current != "nixos-mini" ||
		kc.Users[0].Name != "nixos-mini" || kc.Users[0].User.Key != "S0VZMQo=" {
		t.Errorf("decrypted kubeconfig:\n%s", plain)
	}
	stanza := sopsAgeStanza(t, file)
	tmpAfter, _ := os.ReadDir(os.TempDir())
	if len(tmpAfter) > len(tmpBefore) {
		for _, e := range tmpAfter {
			if strings.HasPrefix(e.Name(), "nixctl-edit") {
				t.Errorf("a plaintext directory was left in the temp dir: %s", e.Name())
			}
		}
	}

	// The certificate rotates: the content is replaced, the data key kept.
	k0sRotated := k0sStandIn(t, "S0VZMgo=")
	os.Remove(filepath.Join(bin, "k0s"))
	testutil.Symlink(t, filepath.Join(k0sRotated, "k0s"), filepath.Join(bin, "k0s"))
	_, errs, code = f.run("", "secrets", "add", "kubeconfig", "--from-host", "nixos-mini")
	if code != 0 || !strings.Contains(errs, "replaced the content of secrets/kubeconfig/nixos-mini.yml") {
		t.Fatalf("second fetch: exit %d\n%s", code, errs)
	}
	if plain := sopsDecrypt(t, f, file); !strings.Contains(plain, "S0VZMgo=") || strings.Contains(plain, "S0VZMQo=") {
		t.Errorf("rotated kubeconfig not stored:\n%s", plain)
	}
	if sopsAgeStanza(t, file) != stanza {
		t.Error("the data key changed on a refresh")
	}

	// --remote-path reads a file on the host.
	conf := filepath.Join(t.TempDir(), "admin.conf")
	testutil.WriteFile(t, conf, []byte(strings.Replace(plain, "S0VZMQo=", "S0VZMwo=", 1)), 0o600)
	// With --json the result is the store's document, and nothing else.
	doc := f.mustRun("", "--json", "secrets", "add", "kubeconfig", "--from-host", "nixos-mini", "--remote-path", conf)
	var stored secrets.StoreResult
	if err := json.Unmarshal([]byte(doc), &stored); err != nil || stored.Path != "secrets/kubeconfig/nixos-mini.yml" || !stored.Replaced || len(stored.Recipients) == 0 {
		t.Errorf("--json (%v):\n%s", err, doc)
	}
	if plain := sopsDecrypt(t, f, file); !strings.Contains(plain, "S0VZMwo=") {
		t.Errorf("--remote-path: %s", plain)
	}

	// A failing remote command is one error line with a hint, and the file
	// is left as it was.
	before := readFile(t, file)
	_, errs, code = f.run("", "secrets", "add", "kubeconfig", "--from-host", "nixos-mini", "--remote-command", "k0s kubeconfig create nobody")
	if code != exitcode.Failure || !strings.Contains(errs, `nixctl: error: k0s kubeconfig create nobody on root@127.0.0.1`) ||
		!strings.Contains(errs, "unknown command") || !strings.Contains(errs, "nixctl: hint:") {
		t.Errorf("failing command: exit %d\n%s", code, errs)
	}
	if readFile(t, file) != before {
		t.Error("a failed fetch changed the file")
	}
	_, errs, code = f.run("", "secrets", "add", "kubeconfig", "--from-host", "nixos-mini", "--remote-path", "etc/k0s")
	if code != exitcode.Usage || !strings.Contains(errs, "clean absolute path") {
		t.Errorf("relative --remote-path: exit %d %s", code, errs)
	}
}

// --dry-run runs the command as a real run does, over printers: stdout
// shows the read on the host as its ssh line, then the files it would
// write, and nothing changes here or on the host (sshd logs no
// connection). The same command without --dry-run does connect: sshd's
// log is where a connection would have shown.
func TestSecretsAddKubeconfigFromHostDryRun(t *testing.T) {
	f, sshd, _ := k0sFleet(t)
	trustHost(t, f, sshd)
	file := filepath.Join(f.dir, "secrets", "kubeconfig", "nixos-mini.yml")
	read := fmt.Sprintf("-p %d ", sshd.Port)

	// dryRun runs nixctl --dry-run args and checks that it changed nothing,
	// reached no host, and printed the read then changes, in that order.
	dryRun := func(op string, changes []string, args ...string) string {
		t.Helper()
		home, fleet, log := testutil.Tree(t, f.home), testutil.Tree(t, f.dir), sshd.Log()
		out, errs, code := f.run("", append([]string{"--dry-run", "secrets", "add", "kubeconfig", "--from-host", "nixos-mini"}, args...)...)
		if code != 0 {
			t.Fatalf("dry run %v: exit %d\n%s%s", args, code, out, errs)
		}
		lines := strings.Split(out, "\n")
		if !strings.HasPrefix(lines[0], "ssh ") || !strings.Contains(lines[0], read) || !strings.HasSuffix(lines[0], ` 'sh -c "<kubeconfig-read.sh>" nixctl-kubeconfig-read / 0 `+op+"'") {
			t.Errorf("dry run %v: the read is not the first step:\n%s", args, out)
		}
		wantChanges(t, fmt.Sprintf("dry run %v", args), strings.Join(lines[1:], "\n"), changes...)
		testutil.SameTree(t, "a dry run", home, testutil.Tree(t, f.home))
		testutil.SameTree(t, "a dry run", fleet, testutil.Tree(t, f.dir))
		if sshd.Log() != log {
			t.Errorf("sshd saw a connection during a dry run:\n%s", strings.TrimPrefix(sshd.Log(), log))
		}
		return errs
	}

	errs := dryRun("k0s-admin", []string{
		"mkdir " + filepath.Dir(file) + " (mode 0755)",
		"create " + file + " (mode 0644, "})
	if !strings.Contains(errs, "would write secrets/kubeconfig/nixos-mini.yml") {
		t.Errorf("a dry run says what it would write:\n%s", errs)
	}

	log := sshd.Log()
	f.mustRun("", "secrets", "add", "kubeconfig", "--from-host", "nixos-mini")
	for deadline := time.Now().Add(10 * time.Second); sshd.Log() == log; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("sshd logged nothing for a real fetch: it cannot show that a dry run made no connection")
		}
	}
	stored := readFile(t, file)

	errs = dryRun("path /var/lib/k0s/pki/admin.conf", []string{"write " + file + " (mode 0644, "},
		"--remote-path", "/var/lib/k0s/pki/admin.conf")
	if !strings.Contains(errs, "would replace the content of secrets/kubeconfig/nixos-mini.yml") {
		t.Errorf("a dry run says what it would replace:\n%s", errs)
	}
	if readFile(t, file) != stored {
		t.Error("a dry run changed the stored kubeconfig")
	}
}

// With sudo: true and a user that is not root, only the read goes through
// sudo -n, over a real sshd: a stand-in sudo on the hosts' PATH records who
// asked for what, lets nixctl-doc in and asks nixctl-nopw for a password.
func TestSecretsAddKubeconfigFromHostThroughSudo(t *testing.T) {
	testutil.Require(t, "sops")
	bin := k0sStandIn(t, "S0VZMQo=")
	log := filepath.Join(bin, "sudo.log")
	testutil.WriteFile(t, log, nil, 0o666)
	if err := os.Chmod(log, 0o666); err != nil {
		t.Fatal(err)
	}
	sudo := "#!/bin/sh\necho \"$(id -un) $*\" >>" + log + "\n" +
		"[ \"$(id -un)\" = nixctl-nopw ] && { echo 'sudo: a password is required' >&2; exit 1; }\n" +
		"[ \"$1 $2\" = '-n --' ] || { echo \"sudo: unexpected $*\" >&2; exit 1; }\nshift 2\nexec \"$@\"\n"
	testutil.WriteFile(t, filepath.Join(bin, "sudo"), []byte(sudo), 0o755)
	sshd := testutil.StartSSHD(t, testutil.SSHDOptions{
		ExtraUsers: []string{"nixctl-doc", "nixctl-nopw"},
		Env:        map[string]string{"PATH": bin + ":/usr/bin:/bin"},
	})
	f := newSecretsFleet(t)
	host := func(name, user string) string {
		return fmt.Sprintf("  - {name: %s, address: 127.0.0.1, port: %d, user: %s, sudo: true, identity: %s}\n", name, sshd.Port, user, sshd.ClientKeyFile)
	}
	testutil.WriteFile(t, filepath.Join(f.dir, "nixctl.yaml"), []byte("hosts:\n"+host("ops", "nixctl-doc")+host("nopw", "nixctl-nopw")), 0o644)
	f.mustRun("", "secrets", "init")
	trustHost(t, f, sshd)

	out := f.mustRun("", "--dry-run", "secrets", "add", "kubeconfig", "--from-host", "ops")
	if !strings.Contains(out, `nixctl-doc@127.0.0.1 'sh -c "<kubeconfig-read.sh>" nixctl-kubeconfig-read / 1 k0s-admin'`) {
		t.Errorf("the dry run does not show the read through sudo:\n%s", out)
	}
	if got := readFile(t, log); got != "" {
		t.Fatalf("a dry run ran sudo: %q", got)
	}

	f.mustRun("", "secrets", "add", "kubeconfig", "--from-host", "ops")
	if plain := sopsDecrypt(t, f, filepath.Join(f.dir, "secrets", "kubeconfig", "ops.yml")); !strings.Contains(plain, "S0VZMQo=") || !strings.Contains(plain, "current-context: ops") {
		t.Errorf("stored kubeconfig:\n%s", plain)
	}
	if got := readFile(t, log); got != "nixctl-doc -n -- k0s kubeconfig admin\n" {
		t.Errorf("sudo ran %q: want only the read, as nixctl-doc", got)
	}

	_, errs, code := f.run("", "secrets", "add", "kubeconfig", "--from-host", "nopw")
	if code != exitcode.Failure || !strings.Contains(errs, "nixctl: error: k0s kubeconfig admin on nixctl-nopw@127.0.0.1") ||
		!strings.Contains(errs, "failed (exit 1): sudo: a password is required") || !strings.Contains(errs, "nixctl: hint: sudo -n needs a password on the host") {
		t.Errorf("sudo asking for a password: exit %d\n%s", code, errs)
	}
	if _, err := os.Stat(filepath.Join(f.dir, "secrets", "kubeconfig", "nopw.yml")); err == nil {
		t.Error("a refused read wrote a file")
	}
}
