package secrets

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/nixctl/nixctl/internal/fsx"
	"github.com/nixctl/nixctl/internal/testutil"
)

// nixctl's files open with the real sops, in every format.
func TestInteropSopsDecryptsNixctlFiles(t *testing.T) {
	testutil.Require(t, "sops")
	f := newFixture(t)
	for _, s := range samples {
		t.Run(string(s.format), func(t *testing.T) {
			path := f.add(s.name, []byte(s.plain))
			out, err := sopsCmd(t, f.repo.Root, f.keyFile, "-d", path)
			if err != nil {
				t.Fatalf("sops -d: %v", err)
			}
			sameDocument(t, s.format, []byte(s.plain), out)
		})
	}
}

// Files sops encrypts open with nixctl.
func TestInteropNixctlDecryptsSopsFiles(t *testing.T) {
	testutil.Require(t, "sops")
	f := newFixture(t)
	for _, s := range samples {
		t.Run(string(s.format), func(t *testing.T) {
			dir := t.TempDir()
			in := filepath.Join(dir, filepath.Base(s.name))
			testutil.WriteFile(t, in, []byte(s.plain), 0o600)
			enc, err := sopsCmd(t, dir, f.keyFile, "-e", "--age", f.recipient, in)
			if err != nil {
				t.Fatalf("sops -e: %v", err)
			}
			path := filepath.Join(f.repo.Dir, s.name)
			testutil.MkdirAll(t, filepath.Dir(path), 0o755)
			testutil.WriteFile(t, path, enc, 0o644)
			sameDocument(t, s.format, []byte(s.plain), f.open(path))
			rep, err := f.session().Verify(t.Context(), VerifyOptions{})
			if err != nil || !rep.OK() {
				t.Errorf("verify of a sops-made file: %v %v", rep.Problems(), err)
			}
		})
	}
}

// rekey: a newly added key opens the result with sops; a removed one no
// longer does, and the data key was rotated.
func TestInteropRekey(t *testing.T) {
	testutil.Require(t, "sops")
	f := newFixture(t)
	path := f.add("kubeconfig/mini.yml", []byte(samples[0].plain))
	newKey, newRecipient := writeKey(t)

	c, _ := LoadSopsConfig(f.repo.Config)
	c = addKey(t, c, "nixos-mini", newRecipient)
	testutil.WriteFile(t, f.repo.Config, c.Data, 0o644)
	out, res, err := f.session().Rekey(path, mustRead(t, path))
	if err != nil || res.Rotated || len(res.Added) != 1 {
		t.Fatalf("rekey after add: %+v %v", res, err)
	}
	testutil.WriteFile(t, path, out, 0o644)
	if got, err := sopsCmd(t, f.repo.Root, newKey, "-d", path); err != nil {
		t.Fatalf("the added key cannot open the rekeyed file: %v", err)
	} else {
		sameDocument(t, YAML, []byte(samples[0].plain), got)
	}

	// Retire the user's own key: the host key alone remains, the data key
	// rotates, and the old key cannot open the file any more.
	oldDataKey := dataKeyOf(t, f, path)
	c, _ = LoadSopsConfig(f.repo.Config)
	c = removeKey(t, c, "gabriel")
	testutil.WriteFile(t, f.repo.Config, c.Data, 0o644)
	out, res, err = f.session().Rekey(path, mustRead(t, path))
	if err != nil || !res.Rotated || len(res.Removed) != 1 {
		t.Fatalf("rekey after remove: %+v %v", res, err)
	}
	testutil.WriteFile(t, path, out, 0o644)
	if _, err := sopsCmd(t, f.repo.Root, f.keyFile, "-d", path); err == nil {
		t.Error("the removed key still opens the file")
	}
	got, err := sopsCmd(t, f.repo.Root, newKey, "-d", path)
	if err != nil {
		t.Fatalf("the remaining key cannot open the file: %v", err)
	}
	sameDocument(t, YAML, []byte(samples[0].plain), got)
	f.env.AgeKeyFile = newKey
	if bytes.Equal(oldDataKey, dataKeyOf(t, f, path)) {
		t.Error("the data key was not rotated when a recipient was removed")
	}
}

func dataKeyOf(t *testing.T, f *fixture, path string) []byte {
	t.Helper()
	s := f.session()
	e, err := s.Load(path, mustRead(t, path))
	if err != nil {
		t.Fatal(err)
	}
	k, err := s.DataKey(e)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// Keys from Debian's age-keygen work with nixctl, and nixctl's keys work
// with age and age-keygen.
func TestInteropAgeKeygen(t *testing.T) {
	testutil.Require(t, "age-keygen", "age")
	dir := t.TempDir()
	theirs := filepath.Join(dir, "theirs.txt")
	if out, err := exec.Command("age-keygen", "-o", theirs).CombinedOutput(); err != nil {
		t.Fatalf("age-keygen: %v %s", err, out)
	}
	pub, err := exec.Command("age-keygen", "-y", theirs).Output()
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t)
	f.env.AgeKeyFile = theirs
	res, err := Init(f.repo, f.env, "gabriel", f.now(), fsx.Disk{})
	if err != nil || res.KeyCreated || res.Recipient != strings.TrimSpace(string(pub)) {
		t.Fatalf("init with an age-keygen key: %+v %v", res, err)
	}
	c, _ := LoadSopsConfig(f.repo.Config)
	c = addKey(t, c, "debian", res.Recipient)
	testutil.WriteFile(t, f.repo.Config, c.Data, 0o644)
	path := f.add("x.yml", []byte("k: v\n"))
	f.env.AgeKeyFile = theirs
	f.env.Home = t.TempDir()
	sameDocument(t, YAML, []byte("k: v\n"), f.open(path))

	// The reverse: the file nixctl init wrote is one age-keygen and age read.
	ours := newFixture(t).keyFile
	pub, err = exec.Command("age-keygen", "-y", ours).Output()
	if err != nil {
		t.Fatalf("age-keygen -y on nixctl's key: %v", err)
	}
	id := readIdentity(t, ours)
	if strings.TrimSpace(string(pub)) != id.Recipient().String() {
		t.Errorf("age-keygen -y = %s, want %s", pub, id.Recipient())
	}
	enc := exec.Command("age", "-r", id.Recipient().String())
	enc.Stdin = strings.NewReader("hello")
	ct, err := enc.Output()
	if err != nil {
		t.Fatal(err)
	}
	dec := exec.Command("age", "-d", "-i", ours)
	dec.Stdin = bytes.NewReader(ct)
	if pt, err := dec.Output(); err != nil || string(pt) != "hello" {
		t.Errorf("age -d with nixctl's key: %q %v", pt, err)
	}
	if st, _ := os.Stat(ours); st.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %o, want 600", st.Mode().Perm())
	}
}

func readIdentity(t *testing.T, path string) *age.X25519Identity {
	t.Helper()
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	ids, err := age.ParseIdentities(fh)
	if err != nil || len(ids) != 1 {
		t.Fatalf("parse %s: %v", path, err)
	}
	return ids[0].(*age.X25519Identity)
}

// --extract prints what sops -d --extract prints.
func TestInteropExtract(t *testing.T) {
	testutil.Require(t, "sops")
	f := newFixture(t)
	path := f.add("kubeconfig/mini.yml", []byte(samples[0].plain))
	for _, expr := range []string{`["users"][0]`, `["users"][0]["token"]`, `["port"]`, `["enabled"]`} {
		want, err := sopsCmd(t, f.repo.Root, f.keyFile, "-d", "--extract", expr, path)
		if err != nil {
			t.Fatal(err)
		}
		got, err := f.session().Cat("kubeconfig/mini.yml", expr)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Errorf("%s: nixctl %q, sops %q", expr, got, want)
		}
	}
}
