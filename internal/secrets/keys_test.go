package secrets

import (
	"context"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/nixctl/nixctl/internal/execx"
	"github.com/nixctl/nixctl/internal/fsx"
	"github.com/nixctl/nixctl/internal/testutil"
)

func TestKeyringSources(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	path := f.add("a.yml", []byte("k: v\n"))
	id := readIdentity(t, f.keyFile)
	other, _ := age.GenerateX25519Identity()
	noDefault := t.TempDir()

	open := func(vars map[string]string, r execx.Runner) error {
		t.Helper()
		env := keyEnv(vars, noDefault, r)
		s, err := NewSession(f.repo, LoadKeyring(context.Background(), env))
		if err != nil {
			t.Fatal(err)
		}
		_, err = s.Open(path, mustRead(t, path))
		return err
	}
	// Nothing anywhere.
	err := open(map[string]string{}, nil)
	if err == nil || !strings.Contains(err.Error(), "no age key found") {
		t.Errorf("no key: %v", err)
	}
	// SOPS_AGE_KEY takes several keys on one line.
	if err := open(map[string]string{"SOPS_AGE_KEY": other.String() + " " + id.String()}, nil); err != nil {
		t.Errorf("SOPS_AGE_KEY: %v", err)
	}
	// SOPS_AGE_KEY_FILE.
	if err := open(map[string]string{"SOPS_AGE_KEY_FILE": f.keyFile}, nil); err != nil {
		t.Errorf("SOPS_AGE_KEY_FILE: %v", err)
	}
	// XDG_CONFIG_HOME/sops/age/keys.txt.
	xdg := t.TempDir()
	testutil.MkdirAll(t, filepath.Join(xdg, "sops", "age"), 0o700)
	testutil.WriteFile(t, filepath.Join(xdg, "sops", "age", "keys.txt"), mustRead(t, f.keyFile), 0o600)
	if err := open(map[string]string{"XDG_CONFIG_HOME": xdg}, nil); err != nil {
		t.Errorf("XDG_CONFIG_HOME: %v", err)
	}
	// SOPS_AGE_KEY_CMD runs through the runner, without a shell, with the
	// recipient being decrypted in SOPS_AGE_RECIPIENT.
	rec := &execx.Recorder{}
	var gotEnv []string
	rec.RegisterStub(&execx.Stub{Prefix: []string{"pass", "show", "age key"}, Func: func(c execx.Cmd) (string, int) {
		gotEnv = c.Env
		return id.String() + "\n", 0
	}})
	if err := open(map[string]string{"SOPS_AGE_KEY_CMD": `pass show "age key"`}, rec); err != nil {
		t.Errorf("SOPS_AGE_KEY_CMD: %v", err)
	}
	rec.Verify(t)
	if !slices.Contains(gotEnv, "SOPS_AGE_RECIPIENT="+f.recipient) {
		t.Errorf("SOPS_AGE_RECIPIENT not passed: %v", gotEnv)
	}
	// A malformed key file: the error names the line, never its content.
	bad := filepath.Join(t.TempDir(), "keys.txt")
	testutil.WriteFile(t, bad, []byte("# comment\nAGE-SECRET-KEY-1NOTAKEYATALL-hunter2\n"), 0o600)
	err = open(map[string]string{"SOPS_AGE_KEY_FILE": bad}, nil)
	if err == nil || !strings.Contains(err.Error(), "line 2") || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("bad key file: %v", err)
	}
	// The wrong key says so.
	if err := open(map[string]string{"SOPS_AGE_KEY": other.String()}, nil); err == nil || !strings.Contains(err.Error(), "no age key here can decrypt it") {
		t.Errorf("wrong key: %v", err)
	}
}

// secrets.sopsConfig may put .sops.yaml inside the secrets directory: init
// writes a rule relative to it, and verify does not take it for a secret.
func TestSopsConfigInsideSecretsDir(t *testing.T) {
	t.Parallel()
	root, home := t.TempDir(), t.TempDir()
	env := Env{Home: home}
	repo := Repo{Root: root, Dir: filepath.Join(root, "secrets"), Config: filepath.Join(root, "secrets", ".sops.yaml")}
	testutil.MkdirAll(t, repo.Dir, 0o755)
	if _, err := Init(repo, env, "me", time.Now(), fsx.Disk{}); err != nil {
		t.Fatal(err)
	}
	s, err := NewSession(repo, LoadKeyring(context.Background(), env))
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(repo.Dir, "a.yml")
	out, _, err := s.Encrypt(p, YAML, []byte("k: v\n"))
	if err != nil {
		t.Fatal(err)
	}
	testutil.WriteFile(t, p, out, 0o644)
	rep, err := s.Verify(t.Context(), VerifyOptions{})
	if err != nil || len(rep.Files) != 1 || !rep.OK() || !rep.Files[0].MACChecked {
		t.Errorf("verify: %+v %v", rep, err)
	}
	// A .sops.yaml beside a sibling of the secrets dir cannot match it.
	bad := Repo{Root: root, Dir: filepath.Join(root, "secrets"), Config: filepath.Join(root, "other", ".sops.yaml")}
	testutil.MkdirAll(t, filepath.Join(root, "other"), 0o755)
	if _, err := Init(bad, env, "me", time.Now(), fsx.Disk{}); err == nil {
		t.Error("init accepted a .sops.yaml that cannot cover the secrets dir")
	}
}

// An ssh-ed25519 recipient (sops accepts them) opens with the SSH private key
// in SOPS_AGE_SSH_PRIVATE_KEY_FILE, or ~/.ssh/id_ed25519, as with sops.
func TestKeyringSSHIdentity(t *testing.T) {
	testutil.Require(t, "ssh-keygen")
	dir := t.TempDir()
	key := filepath.Join(dir, "id_ed25519")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v %s", err, out)
	}
	pub := strings.Join(strings.Fields(string(mustRead(t, key+".pub")))[:2], " ")
	root := t.TempDir()
	repo := Repo{Root: root, Dir: filepath.Join(root, "secrets"), Config: filepath.Join(root, ".sops.yaml")}
	testutil.MkdirAll(t, repo.Dir, 0o755)
	testutil.WriteFile(t, repo.Config, []byte("creation_rules:\n  - age: "+pub+"\n"), 0o644)
	s, err := NewSession(repo, nil)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(repo.Dir, "a.yml")
	out, _, err := s.Encrypt(p, YAML, []byte("k: v\n"))
	if err != nil {
		t.Fatal(err)
	}
	testutil.WriteFile(t, p, out, 0o644)
	for name, vars := range map[string]map[string]string{
		"SOPS_AGE_SSH_PRIVATE_KEY_FILE": {"SOPS_AGE_SSH_PRIVATE_KEY_FILE": key},
		"~/.ssh/id_ed25519":             {},
	} {
		home := t.TempDir()
		if name == "~/.ssh/id_ed25519" {
			testutil.MkdirAll(t, filepath.Join(home, ".ssh"), 0o700)
			testutil.WriteFile(t, filepath.Join(home, ".ssh", "id_ed25519"), mustRead(t, key), 0o600)
		}
		env := keyEnv(vars, home, nil)
		s, _ := NewSession(repo, LoadKeyring(context.Background(), env))
		if _, err := s.Open(p, out); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// keyEnv is an Env whose key sources are vars, named as sops names them.
func keyEnv(vars map[string]string, home string, r execx.Runner) Env {
	return Env{
		Home: home, Runner: r, ConfigHome: vars["XDG_CONFIG_HOME"],
		AgeKey: vars["SOPS_AGE_KEY"], AgeKeyFile: vars["SOPS_AGE_KEY_FILE"], AgeKeyCmd: vars["SOPS_AGE_KEY_CMD"],
		SSHKeyFile: vars["SOPS_AGE_SSH_PRIVATE_KEY_FILE"], SSHKeyCmd: vars["SOPS_AGE_SSH_PRIVATE_KEY_CMD"],
	}
}
