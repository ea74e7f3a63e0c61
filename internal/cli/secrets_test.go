package cli

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/nixctl/nixctl/internal/exitcode"
	"github.com/nixctl/nixctl/internal/secrets"
	"github.com/nixctl/nixctl/internal/testutil"
	"github.com/nixctl/nixctl/internal/ui"
)

// secretsFleet is a fleet directory and a private HOME for secrets commands.
type secretsFleet struct {
	t    *testing.T
	dir  string
	home string
	env  map[string]string
}

func newSecretsFleet(t *testing.T) *secretsFleet {
	t.Helper()
	f := &secretsFleet{t: t, dir: t.TempDir(), home: t.TempDir()}
	f.env = map[string]string{"HOME": f.home, "USER": "gabriel"}
	inv := "hosts:\n  - name: nixos-mini\n    address: 127.0.0.1\n"
	if err := os.WriteFile(filepath.Join(f.dir, "nixctl.yaml"), []byte(inv), 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

// run runs nixctl in the fleet directory and returns stdout, stderr, code.
func (f *secretsFleet) run(stdin string, args ...string) (string, string, int) {
	f.t.Helper()
	var out, errb bytes.Buffer
	code := runDeps(testDeps(f.dir, f.env, nil, ui.Stdio{In: strings.NewReader(stdin), Out: &out, Err: &errb}), args...)
	return out.String(), errb.String(), code
}

func (f *secretsFleet) mustRun(stdin string, args ...string) string {
	f.t.Helper()
	out, errs, code := f.run(stdin, args...)
	if code != 0 {
		f.t.Fatalf("nixctl %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errs)
	}
	return out
}

func TestSecretsInitIsIdempotent(t *testing.T) {
	t.Parallel()
	f := newSecretsFleet(t)
	out := f.mustRun("", "secrets", "init")
	keyFile := filepath.Join(f.home, ".config", "sops", "age", "keys.txt")
	if !strings.Contains(out, keyFile+" (created)") {
		t.Errorf("init output: %s", out)
	}
	key := readFile(t, keyFile)
	cfg := readFile(t, filepath.Join(f.dir, ".sops.yaml"))
	if !strings.Contains(cfg, "&gabriel age1") || !strings.Contains(cfg, "- *gabriel") {
		t.Errorf(".sops.yaml lacks the user's anchor:\n%s", cfg)
	}
	out = f.mustRun("", "secrets", "init")
	if !strings.Contains(out, "(exists)") || readFile(t, keyFile) != key || readFile(t, filepath.Join(f.dir, ".sops.yaml")) != cfg {
		t.Errorf("a second init changed something:\n%s", out)
	}
	if st, _ := os.Stat(keyFile); st.Mode().Perm() != 0o600 {
		t.Errorf("key mode %o", st.Mode().Perm())
	}
	if st, _ := os.Stat(filepath.Dir(keyFile)); st.Mode().Perm() != 0o700 {
		t.Errorf("key dir mode %o", st.Mode().Perm())
	}
}

func TestSecretsVerifyExitCodes(t *testing.T) {
	t.Parallel()
	f := newSecretsFleet(t)
	f.mustRun("", "secrets", "init")
	if out := f.mustRun("", "secrets", "verify"); out != "" {
		t.Errorf("verify of an empty dir printed %q", out)
	}
	testutil.WriteFile(t, filepath.Join(f.dir, "secrets", "leak.yml"), []byte("password: hunter2\n"), 0o644)
	out, errs, code := f.run("", "secrets", "verify")
	if code != exitcode.Secrets {
		t.Fatalf("exit %d, want %d", code, exitcode.Secrets)
	}
	if !strings.Contains(out, "secrets/leak.yml\tPLAINTEXT") || !strings.Contains(errs, "secrets/leak.yml: PLAINTEXT") {
		t.Errorf("stdout %q stderr %q", out, errs)
	}
	if strings.Contains(out+errs, "hunter2") {
		t.Error("verify printed a plaintext value")
	}
	out, _, code = f.run("", "--json", "secrets", "verify")
	if code != exitcode.Secrets || !strings.Contains(out, `"status": "PLAINTEXT"`) || strings.Contains(out, "hunter2") {
		t.Errorf("json: exit %d\n%s", code, out)
	}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

const kubeconfig = `apiVersion: v1
current-context: nixos-mini
clusters:
  - name: k0s
    cluster:
      server: https://192.0.2.20:6443
users:
  - name: admin
    user:
      token: very-secret-token
`

// writeEditor writes a fake editor script and returns its path.
func writeEditor(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "editor")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func (f *secretsFleet) addKubeconfig() string {
	f.t.Helper()
	src := filepath.Join(f.t.TempDir(), "config")
	testutil.WriteFile(f.t, src, []byte(kubeconfig), 0o600)
	f.mustRun("", "secrets", "init")
	out := f.mustRun("", "secrets", "add", "kubeconfig", "--from", src)
	if !strings.Contains(out, `path = "${config.home.homeDirectory}/.kube/kubeconfig/nixos-mini.yml"`) {
		f.t.Errorf("add did not print the sops-nix declaration:\n%s", out)
	}
	return filepath.Join(f.dir, "secrets", "kubeconfig", "nixos-mini.yml")
}

func TestSecretsAddCatAndForce(t *testing.T) {
	t.Parallel()
	f := newSecretsFleet(t)
	path := f.addKubeconfig()
	if !strings.Contains(readFile(t, path), "ENC[AES256_GCM") || strings.Contains(readFile(t, path), "very-secret-token") {
		t.Fatal("the secret is not encrypted")
	}
	if out := f.mustRun("", "secrets", "cat", "kubeconfig/nixos-mini.yml", "--extract", "users.0.user.token"); strings.TrimSpace(out) != "very-secret-token" {
		t.Errorf("cat --extract = %q", out)
	}
	if out := f.mustRun("", "secrets", "cat", "secrets/kubeconfig/nixos-mini.yml"); !strings.Contains(out, "token: very-secret-token") {
		t.Errorf("cat = %q", out)
	}
	before := readFile(t, path)
	_, errs, code := f.run(kubeconfig, "secrets", "add", "kubeconfig", "--from", "-")
	if code != exitcode.Usage || !strings.Contains(errs, "already exists") || !strings.Contains(errs, "--force") || readFile(t, path) != before {
		t.Errorf("overwrite without --force: exit %d %s", code, errs)
	}
	f.mustRun("token: other\n", "secrets", "add", "kubeconfig", "nixos-mini", "--from", "-", "--force")
	if out := f.mustRun("", "secrets", "cat", "kubeconfig/nixos-mini.yml"); out != "token: other\n" {
		t.Errorf("after --force: %q", out)
	}
	// Formats decide the extension.
	f.mustRun("A=1\nB=2\n", "secrets", "add", "app", "env", "--from", "-")
	f.mustRun(`{"a": 1}`, "secrets", "add", "app", "conf", "--from", "-")
	f.mustRun("\x00\x01raw", "secrets", "add", "app", "blob", "--from", "-")
	for _, name := range []string{"env.env", "conf.json", "blob.bin"} {
		if _, err := os.Stat(filepath.Join(f.dir, "secrets", "app", name)); err != nil {
			t.Errorf("missing %s: %v", name, err)
		}
	}
}

func TestSecretsHostileNames(t *testing.T) {
	t.Parallel()
	f := newSecretsFleet(t)
	f.mustRun("", "secrets", "init")
	outside := t.TempDir()
	testutil.Symlink(t, outside, filepath.Join(f.dir, "secrets", "link"))
	cases := [][]string{
		{"secrets", "add", "../x", "n", "--from", "-"},
		{"secrets", "add", "kube", "../../etc", "--from", "-"},
		{"secrets", "add", ".hidden", "n", "--from", "-"},
		{"secrets", "add", "kube", ".n", "--from", "-"},
		{"secrets", "add", "kube", "a\x00b", "--from", "-"},
		{"secrets", "add", "kube", "a\nb", "--from", "-"},
		{"secrets", "add", "/etc", "passwd", "--from", "-"},
		{"secrets", "add", "link", "n", "--from", "-"},
		{"secrets", "cat", "../nixctl.yaml"},
		{"secrets", "cat", "/etc/passwd"},
		{"secrets", "cat", "kube/../../nixctl.yaml"},
		{"secrets", "cat", "link/x.yml"},
		{"secrets", "edit", "../.sops.yaml"},
		{"secrets", "rekey", "../nixctl.yaml"},
	}
	for _, args := range cases {
		out, errs, code := f.run("k: v\n", args...)
		if code != exitcode.Usage || out != "" || strings.Count(strings.TrimSpace(errs), "\n") != 1 || !strings.Contains(errs, "nixctl: hint:") {
			t.Errorf("%q: exit %d, stdout %q, stderr %q", args, code, out, errs)
		}
	}
	if entries, _ := os.ReadDir(outside); len(entries) != 0 {
		t.Errorf("something was written through the symlink: %v", entries)
	}
}

func TestSecretsEditChangesOnlyWhatChanged(t *testing.T) {
	t.Parallel()
	f := newSecretsFleet(t)
	path := f.addKubeconfig()
	before := readFile(t, path)
	f.env["XDG_RUNTIME_DIR"] = t.TempDir()

	// An editor that changes nothing: the file is not rewritten.
	f.env["EDITOR"] = writeEditor(t, "exit 0\n")
	f.mustRun("", "secrets", "edit", "kubeconfig/nixos-mini.yml")
	if readFile(t, path) != before {
		t.Error("an unchanged edit rewrote the file")
	}

	// A real change: same data key, the other values keep their ciphertext.
	f.env["EDITOR"] = writeEditor(t, "sed -i 's/very-secret-token/rotated-token/' \"$1\"\n")
	f.mustRun("", "secrets", "edit", "kubeconfig/nixos-mini.yml")
	after := readFile(t, path)
	if out := f.mustRun("", "secrets", "cat", "kubeconfig/nixos-mini.yml", "--extract", "users.0.user.token"); strings.TrimSpace(out) != "rotated-token" {
		t.Errorf("after edit: %q", out)
	}
	if encOf(before, "server:") != encOf(after, "server:") || encOf(before, "token:") == encOf(after, "token:") {
		t.Error("re-encryption did not keep the data key and unchanged values")
	}
	if entries, _ := os.ReadDir(f.env["XDG_RUNTIME_DIR"]); len(entries) != 0 {
		t.Errorf("plaintext left behind: %v", entries)
	}

	// Invalid content: the original stays, the text is kept encrypted and
	// offered back next time.
	f.env["EDITOR"] = writeEditor(t, "printf 'users: [\\n  unclosed-secret-text\\n' > \"$1\"\n")
	_, errs, code := f.run("", "secrets", "edit", "kubeconfig/nixos-mini.yml")
	if code != exitcode.Secrets || !strings.Contains(errs, "unchanged") || strings.Contains(errs, "unclosed-secret-text") {
		t.Errorf("invalid edit: exit %d %s", code, errs)
	}
	if readFile(t, path) != after {
		t.Error("an invalid edit changed the file")
	}
	state := filepath.Join(f.home, ".local", "state")
	found := false
	if err := filepath.WalkDir(state, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			found = true
			if strings.Contains(readFile(t, p), "unclosed-secret-text") {
				t.Errorf("the rejected edit is stored in plaintext in %s", p)
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if !found {
		t.Error("the rejected edit was not kept")
	}
	seen := filepath.Join(t.TempDir(), "seen")
	f.env["EDITOR"] = writeEditor(t, "cp \"$1\" "+seen+"\n")
	if _, errs, code := f.run("", "secrets", "edit", "kubeconfig/nixos-mini.yml"); code != exitcode.Secrets || !strings.Contains(errs, "starting from your edit") {
		t.Errorf("resuming: exit %d %s", code, errs)
	}
	if !strings.Contains(readFile(t, seen), "unclosed-secret-text") {
		t.Error("the rejected text was not offered back")
	}
	// Fixing it clears the kept text.
	f.env["EDITOR"] = writeEditor(t, "printf 'users: []\\n' > \"$1\"\n")
	f.mustRun("", "secrets", "edit", "kubeconfig/nixos-mini.yml")
	if out := f.mustRun("", "secrets", "cat", "kubeconfig/nixos-mini.yml"); out != "users: []\n" {
		t.Errorf("after the fix: %q", out)
	}
}

// encOf returns the line holding key in an encrypted YAML file.
func encOf(doc, key string) string {
	for _, l := range strings.Split(doc, "\n") {
		if strings.Contains(l, key) {
			return l
		}
	}
	return ""
}

func TestSecretsAddHostKeyFileAndRemoveHost(t *testing.T) {
	t.Parallel()
	f := newSecretsFleet(t)
	path := f.addKubeconfig()
	hostPub := filepath.Join(t.TempDir(), "ssh_host_ed25519_key.pub")
	// The public half of ed25519 seed 0x01…: any valid key does.
	testutil.WriteFile(t, hostPub, []byte("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOHz+U0YtjINc54dZiJNclfmEFifF7RXCFlNlTbuZBji root@nixos-mini\n"), 0o644)
	// The only rule also covers the users' kubeconfigs: a host joins it
	// only when told so.
	_, errs, code := f.run("", "secrets", "add-host", "nixos-mini", "--key-file", hostPub)
	if code != exitcode.Secrets || !strings.Contains(errs, "also cover secrets/kubeconfig/nixos-mini.yml, which nixos-mini does not need") ||
		!strings.Contains(errs, "--rule '^secrets/'") {
		t.Errorf("add-host into the kubeconfigs' rule: exit %d %s", code, errs)
	}
	out := f.mustRun("", "secrets", "add-host", "nixos-mini", "--key-file", hostPub, "--rule", "^secrets/")
	if !strings.Contains(out, "secrets/kubeconfig/nixos-mini.yml: gains access: nixos-mini") {
		t.Errorf("add-host output: %s", out)
	}
	cfg := readFile(t, filepath.Join(f.dir, ".sops.yaml"))
	if !strings.Contains(cfg, "  - &nixos-mini age1") || !strings.Contains(cfg, "          - *nixos-mini\n") {
		t.Errorf(".sops.yaml:\n%s", cfg)
	}
	list := f.mustRun("", "secrets", "list")
	if !strings.Contains(list, "gabriel,nixos-mini") || !strings.Contains(list, "\tok") {
		t.Errorf("list: %s", list)
	}
	if out, errs, code := f.run("", "secrets", "add-host", "nixos-mini", "--key-file", hostPub, "--rule", "^secrets/"); code != 0 || !strings.Contains(errs, "already lists nixos-mini") || out != "" {
		t.Errorf("second add-host: %s", out)
	}
	before := readFile(t, path)
	out = f.mustRun("", "secrets", "remove-host", "nixos-mini")
	if !strings.Contains(out, "loses access: nixos-mini; data key rotated") || strings.Contains(readFile(t, filepath.Join(f.dir, ".sops.yaml")), "nixos-mini") {
		t.Errorf("remove-host: %s", out)
	}
	if encOf(before, "server:") == encOf(readFile(t, path), "server:") {
		t.Error("values were not re-encrypted under a new data key")
	}
	f.mustRun("", "secrets", "verify")
	_, errs, code = f.run("", "secrets", "remove-host", "gabriel")
	if code != exitcode.Secrets || !strings.Contains(errs, "no recipient") {
		t.Errorf("removing the last key: exit %d %s", code, errs)
	}
	_, errs, code = f.run("", "secrets", "add-host", "nope")
	if code != exitcode.Usage || !strings.Contains(errs, `no host named "nope"`) {
		t.Errorf("unknown host: exit %d %s", code, errs)
	}
}

// Over SSH, a host key known_hosts does not hold needs --yes (no terminal
// here); with it, the host is added.
func TestSecretsAddHostOverSSH(t *testing.T) {
	sshd := testutil.StartSSHD(t, testutil.SSHDOptions{})
	f := newSecretsFleet(t)
	testutil.WriteFile(t, filepath.Join(f.dir, "nixctl.yaml"), []byte(fmt.Sprintf("hosts:\n  - name: nixos-mini\n    address: 127.0.0.1\n    port: %d\n", sshd.Port)), 0o644)
	f.addKubeconfig()
	_, errs, code := f.run("", "secrets", "add-host", "nixos-mini")
	if code != exitcode.Usage || !strings.Contains(errs, "SHA256:") || !strings.Contains(errs, "--yes") {
		t.Fatalf("unknown host key without --yes: exit %d %s", code, errs)
	}
	if strings.Contains(readFile(t, filepath.Join(f.dir, ".sops.yaml")), "nixos-mini") {
		t.Fatal(".sops.yaml changed without confirmation")
	}
	out := f.mustRun("", "--yes", "secrets", "add-host", "nixos-mini", "--rule", "^secrets/")
	if !strings.Contains(out, "gains access: nixos-mini") {
		t.Errorf("add-host --yes: %s", out)
	}
	// With known_hosts holding the key, no confirmation is needed.
	testutil.MkdirAll(t, filepath.Join(f.home, ".ssh"), 0o700)
	kh, _ := os.ReadFile(sshd.KnownHostsFile)
	testutil.WriteFile(t, filepath.Join(f.home, ".ssh", "known_hosts"), kh, 0o600)
	if out, errs, code := f.run("", "secrets", "add-host", "nixos-mini", "--rule", "^secrets/"); code != 0 || !strings.Contains(errs, "already lists nixos-mini") || out != "" {
		t.Errorf("known host: %s", out)
	}
}

// --staged reads the index, not the working tree: a plaintext staged and
// then encrypted in the working tree still fails the hook.
func TestSecretsVerifyStaged(t *testing.T) {
	t.Parallel()
	testutil.Require(t, "git")
	f := newSecretsFleet(t)
	f.addKubeconfig()
	git := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = f.dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	// A README beside the secrets is documentation, staged or not.
	testutil.WriteFile(t, filepath.Join(f.dir, "secrets", "kubeconfig", "README.md"), []byte("Kubeconfigs encrypted with sops.\n"), 0o644)
	git("init", "-q")
	git("add", ".")
	if out := f.mustRun("", "secrets", "verify", "--staged"); !strings.Contains(out, "secrets/kubeconfig/nixos-mini.yml\tok") || strings.Contains(out, "README") {
		t.Errorf("staged ok: %s", out)
	}
	leak := filepath.Join(f.dir, "secrets", "app.env")
	testutil.WriteFile(t, leak, []byte("PASSWORD=hunter2\n"), 0o644)
	git("add", "secrets/app.env")
	f.mustRun("PASSWORD=hunter2\n", "secrets", "add", "app", "enc", "--from", "-")
	os.Remove(leak) // the working tree is clean again; the index is not
	out, errs, code := f.run("", "secrets", "verify", "--staged")
	if code != exitcode.Secrets || !strings.Contains(out, "secrets/app.env\tPLAINTEXT") || strings.Contains(out, "app/enc.env") || strings.Contains(out+errs, "hunter2") {
		t.Errorf("staged plaintext: exit %d\n%s%s", code, out, errs)
	}
	if _, _, code := f.run("", "secrets", "verify"); code != 0 {
		t.Errorf("the working tree is clean, verify exit %d", code)
	}
}

// The bar: init, then add a kubeconfig, gives a file the real sops
// decrypts with the key init made.
func TestSecretsInitAddDecryptsWithSops(t *testing.T) {
	testutil.Require(t, "sops")
	f := newSecretsFleet(t)
	src := filepath.Join(t.TempDir(), "config")
	testutil.WriteFile(t, src, []byte(kubeconfig), 0o600)
	f.mustRun("", "secrets", "init")
	f.mustRun("", "secrets", "add", "kubeconfig", "nixos-mini", "--from", src)
	cmd := exec.Command("sops", "-d", "secrets/kubeconfig/nixos-mini.yml")
	cmd.Dir = f.dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + f.home}
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "token: very-secret-token") {
		t.Fatalf("sops -d: %v\n%s", err, out)
	}
	// After an edit, sops still opens it (MAC and data key as sops expects).
	f.env["EDITOR"] = writeEditor(t, "sed -i 's/very-secret-token/edited-token/' \"$1\"\n")
	f.mustRun("", "secrets", "edit", "kubeconfig/nixos-mini.yml")
	cmd = exec.Command("sops", "-d", "secrets/kubeconfig/nixos-mini.yml")
	cmd.Dir = f.dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + f.home}
	out, err = cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "token: edited-token") {
		t.Fatalf("sops -d after edit: %v\n%s", err, out)
	}
}

func TestSecretsCompletionOffersFiles(t *testing.T) {
	t.Parallel()
	f := newSecretsFleet(t)
	f.addKubeconfig()
	out := f.mustRun("", "__complete", "secrets", "cat", "")
	if !strings.Contains(out, "kubeconfig/nixos-mini.yml\n") {
		t.Errorf("completion: %q", out)
	}
}

// An edit directory left by a killed nixctl (SIGKILL cannot be caught) is
// removed by the next edit; one of a live process is left alone.
func TestSecretsEditRemovesStaleEditDirs(t *testing.T) {
	t.Parallel()
	f := newSecretsFleet(t)
	f.addKubeconfig()
	runtimeDir := t.TempDir()
	f.env["XDG_RUNTIME_DIR"] = runtimeDir
	f.env["EDITOR"] = writeEditor(t, "exit 0\n")
	stale := filepath.Join(runtimeDir, "nixctl-edit-2147483646-123")
	live := filepath.Join(runtimeDir, fmt.Sprintf("nixctl-edit-%d-456", os.Getppid()))
	for _, d := range []string{stale, live} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
		testutil.WriteFile(t, filepath.Join(d, "nixos-mini.yml"), []byte("token: leftover\n"), 0o600)
	}
	f.mustRun("", "secrets", "edit", "kubeconfig/nixos-mini.yml")
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Error("the stale edit directory is still there")
	}
	if _, err := os.Stat(live); err != nil {
		t.Error("the directory of a running process was removed")
	}
}

func TestSecretsCatRefusesJSON(t *testing.T) {
	t.Parallel()
	f := newSecretsFleet(t)
	f.addKubeconfig()
	out, errs, code := f.run("", "--json", "secrets", "cat", "kubeconfig/nixos-mini.yml")
	if code != exitcode.Usage || out != "" || strings.Contains(errs, "very-secret-token") {
		t.Errorf("cat --json: exit %d %q %q", code, out, errs)
	}
	for _, args := range [][]string{{"secrets", "list"}, {"secrets", "verify"}, {"secrets", "rekey"}} {
		out := f.mustRun("", append([]string{"--json"}, args...)...)
		if strings.Contains(out, "very-secret-token") {
			t.Errorf("%v --json leaks the plaintext", args)
		}
	}
}

// --dry-run writes nothing and prints each file it would write, in order,
// with its mode: the key 0600 in 0700 directories, as the real run makes it.
func TestSecretsDryRunWritesNothing(t *testing.T) {
	t.Parallel()
	f := newSecretsFleet(t)
	home, fleet := testutil.Tree(t, f.home), testutil.Tree(t, f.dir)
	out := f.mustRun("", "--dry-run", "secrets", "init")
	cfg := filepath.Join(f.home, ".config")
	wantChanges(t, "dry-run init", out,
		"mkdir "+cfg+" (mode 0700)",
		"mkdir "+filepath.Join(cfg, "sops")+" (mode 0700)",
		"mkdir "+filepath.Join(cfg, "sops", "age")+" (mode 0700)",
		"create "+filepath.Join(cfg, "sops", "age", "keys.txt")+" (mode 0600, ",
		"create "+filepath.Join(f.dir, ".sops.yaml")+" (mode 0644, ",
		"mkdir "+filepath.Join(f.dir, "secrets")+" (mode 0755)")
	testutil.SameTree(t, "dry-run init", home, testutil.Tree(t, f.home))
	testutil.SameTree(t, "dry-run init", fleet, testutil.Tree(t, f.dir))
	// No recipient of a key that is never written.
	if !strings.Contains(out, "keys.txt (would be created)\nrecipient   (the new key's, once it is made)\n") || strings.Contains(out, "age1") {
		t.Errorf("dry-run init reports a key it did not make:\n%s", out)
	}

	path := f.addKubeconfig()
	home, fleet = testutil.Tree(t, f.home), testutil.Tree(t, f.dir)
	_, errs, code := f.run("k: v\n", "--dry-run", "secrets", "add", "app", "x", "--from", "-")
	if code != 0 || !strings.Contains(errs, "would write secrets/app/x.yml") || strings.Contains(errs, "wrote") {
		t.Errorf("dry-run add: exit %d, says it wrote:\n%s", code, errs)
	}
	out = f.mustRun("k: v\n", "--dry-run", "secrets", "add", "app", "x", "--from", "-")
	wantChanges(t, "dry-run add", out,
		"mkdir "+filepath.Join(f.dir, "secrets", "app")+" (mode 0755)",
		"create "+filepath.Join(f.dir, "secrets", "app", "x.yml")+" (mode 0644, ")
	testutil.SameTree(t, "dry-run add", fleet, testutil.Tree(t, f.dir))

	hostPub := filepath.Join(t.TempDir(), "key.pub")
	testutil.WriteFile(t, hostPub, []byte("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOHz+U0YtjINc54dZiJNclfmEFifF7RXCFlNlTbuZBji\n"), 0o644)
	out = f.mustRun("", "--dry-run", "secrets", "add-host", "nixos-mini", "--key-file", hostPub, "--rule", "^secrets/")
	// .sops.yaml first, then the file it gives the host: as the real run.
	wantChanges(t, "dry-run add-host", out,
		"write "+filepath.Join(f.dir, ".sops.yaml")+" (mode 0644, ",
		"write "+path+" (mode 0644, ")
	testutil.SameTree(t, "dry-run add-host", fleet, testutil.Tree(t, f.dir))
	testutil.SameTree(t, "dry-run add-host", home, testutil.Tree(t, f.home))
}

func TestSecretsEditWarnsAboutDrift(t *testing.T) {
	t.Parallel()
	f := newSecretsFleet(t)
	f.addKubeconfig()
	cfgPath := filepath.Join(f.dir, ".sops.yaml")
	cfg := readFile(t, cfgPath)
	cfg = strings.Replace(cfg, "keys:\n", "keys:\n  - &laptop age1cy0su9fwf3gf9mw868g5yut09p6nytfmmnktexz2ya5uqg9vl9sss4euqm\n", 1)
	cfg = strings.Replace(cfg, "          - *gabriel\n", "          - *gabriel\n          - *laptop\n", 1)
	testutil.WriteFile(t, cfgPath, []byte(cfg), 0o644)
	f.env["XDG_RUNTIME_DIR"] = t.TempDir()
	f.env["EDITOR"] = writeEditor(t, "sed -i 's/very-secret-token/other/' \"$1\"\n")
	_, errs, code := f.run("", "secrets", "edit", "kubeconfig/nixos-mini.yml")
	if code != 0 || !strings.Contains(errs, "recipients differ from .sops.yaml; run 'nixctl secrets rekey secrets/kubeconfig/nixos-mini.yml'") {
		t.Errorf("exit %d: %s", code, errs)
	}
}

// With shamir_threshold 2 over two key groups, add-host says which group
// the host joins and that it cannot decrypt alone, and prints no ✓.
func TestSecretsAddHostShamirSaysItCannotDecryptAlone(t *testing.T) {
	t.Parallel()
	f := newSecretsFleet(t)
	f.mustRun("", "secrets", "init")
	cfg := filepath.Join(f.dir, ".sops.yaml")
	user := regexp.MustCompile(`age1[0-9a-z]+`).FindString(readFile(t, cfg))
	testutil.WriteFile(t, cfg, []byte("keys:\n  - &gabriel "+user+"\n  - &server age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p\ncreation_rules:\n  - path_regex: ^secrets/\n    shamir_threshold: 2\n    key_groups:\n      - age:\n          - *gabriel\n      - age:\n          - *server\n"), 0o644)
	hostPub := filepath.Join(t.TempDir(), "ssh_host_ed25519_key.pub")
	testutil.WriteFile(t, hostPub, []byte("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOHz+U0YtjINc54dZiJNclfmEFifF7RXCFlNlTbuZBji root@nixos-mini\n"), 0o644)
	_, errs, code := f.run("", "secrets", "add-host", "nixos-mini", "--key-file", hostPub)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if strings.Contains(errs, "✓") || !strings.Contains(errs, "✗") || !strings.Contains(errs, "joins key group 1 of 2; it cannot decrypt alone") {
		t.Errorf("add-host output:\n%s", errs)
	}
	_, errs, _ = f.run("", "secrets", "add-host", "nixos-mini", "--key-file", hostPub, "--group", "2")
	if !strings.Contains(errs, "already lists nixos-mini") {
		t.Errorf("a host in a group is in the rule: %s", errs)
	}
}

// list shows recipients whole; on a narrow terminal those without an anchor
// name are shortened, anchored names never.
func TestSecretsListRowsFitTheTerminal(t *testing.T) {
	t.Parallel()
	long := "age1dzvjjum2p240qtdt2qcxpm7pl2s5w36mh4fs3q9dhhq0uezvdqaq9vrgfy"
	rep := &secrets.VerifyReport{Files: []secrets.FileStatus{{Path: "secrets/a.yaml", Format: secrets.YAML, Status: "ok",
		Recipients: []string{"gabriel", long}, Keys: []secrets.Key{{Type: "age", Value: "age1zzz"}, {Type: "age", Value: long}}}}}
	status := func(f secrets.FileStatus) string { return f.Status }
	_, rows := listRows(rep, 0, status)
	if rows[0][2] != "gabriel,"+long {
		t.Errorf("no limit: %q", rows[0][2])
	}
	_, rows = listRows(rep, 200, status)
	if rows[0][2] != "gabriel,"+long {
		t.Errorf("wide terminal: %q", rows[0][2])
	}
	_, rows = listRows(rep, 80, status)
	if rows[0][2] != "gabriel,age1dzvjj…rgfy" {
		t.Errorf("narrow terminal: %q", rows[0][2])
	}
}
