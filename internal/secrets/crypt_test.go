package secrets

import (
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/getsops/sops/v3/logging"
	"go.yaml.in/yaml/v3"

	"github.com/nixctl/nixctl/internal/testutil"
)

var samples = []struct {
	name   string
	format Format
	plain  string
}{
	{"kubeconfig/mini.yml", YAML, "apiVersion: v1\ncurrent-context: mini\nusers:\n    - name: admin\n      token: s3cr3t-token\nport: 6443\nenabled: true\n"},
	{"app/config.json", JSON, "{\n\t\"password\": \"hunter2\",\n\t\"retries\": 3,\n\t\"nested\": {\n\t\t\"list\": [\n\t\t\t\"a\",\n\t\t\t\"b\"\n\t\t]\n\t}\n}"},
	{"app/db.env", Dotenv, "DB_USER=app\nDB_PASSWORD=hunter2\n"},
	{"keys/blob.bin", Binary, "\x00\x01binary\xffsecret\n"},
}

func sameDocument(t *testing.T, f Format, want, got []byte) {
	t.Helper()
	var a, b any
	switch f {
	case YAML:
		if err := yaml.Unmarshal(want, &a); err != nil {
			t.Fatal(err)
		}
		if err := yaml.Unmarshal(got, &b); err != nil {
			t.Fatal(err)
		}
	case JSON:
		if err := json.Unmarshal(want, &a); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(got, &b); err != nil {
			t.Fatal(err)
		}
	default:
		a, b = string(want), string(got)
	}
	if !reflect.DeepEqual(a, b) {
		t.Errorf("round trip changed the document:\nwant %q\ngot  %q", want, got)
	}
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for _, s := range samples {
		t.Run(string(s.format), func(t *testing.T) {
			if got := DetectFormat([]byte(s.plain)); got != s.format {
				t.Errorf("DetectFormat = %s, want %s", got, s.format)
			}
			path := f.add(s.name, []byte(s.plain))
			raw, _ := os.ReadFile(path)
			for _, secret := range []string{"s3cr3t-token", "hunter2", "secret"} {
				if strings.Contains(string(raw), secret) {
					t.Errorf("%s holds %q in clear", s.name, secret)
				}
			}
			sameDocument(t, s.format, []byte(s.plain), f.open(path))
		})
	}
}

func TestEncryptRefusesSopsInputAndEmpty(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	path := f.add("a.yml", []byte("k: v\n"))
	enc, _ := os.ReadFile(path)
	if _, _, err := f.session().Encrypt(filepath.Join(f.repo.Dir, "b.yml"), YAML, enc); err == nil || !strings.Contains(err.Error(), "already a sops file") {
		t.Errorf("encrypting a sops file: %v", err)
	}
	_, _, err := f.session().Encrypt(filepath.Join(f.repo.Dir, "c.json"), JSON, []byte(`{"password": hunter2}`))
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("invalid JSON error must not quote the input: %v", err)
	}
}

func TestTamperedValueAndSwappedCiphertexts(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	path := f.add("list.yml", []byte("tokens:\n    - first-token\n    - second-token\nname: x\n"))
	orig, _ := os.ReadFile(path)
	var doc struct {
		Tokens []string `yaml:"tokens"`
	}
	if err := yaml.Unmarshal(orig, &doc); err != nil || len(doc.Tokens) != 2 {
		t.Fatalf("cannot read the encrypted list: %v", err)
	}
	a, b := doc.Tokens[0], doc.Tokens[1]

	// Two list items share their additional data (the key path), so each
	// swapped ciphertext still decrypts: only the MAC notices the swap.
	swapped := strings.Replace(strings.Replace(strings.Replace(string(orig), a, "@A@", 1), b, a, 1), "@A@", b, 1)
	testutil.WriteFile(t, path, []byte(swapped), 0o644)
	_, err := f.session().Open(path, []byte(swapped))
	if !errors.Is(err, ErrMAC) {
		t.Errorf("swapped ciphertexts: got %v, want %v", err, ErrMAC)
	}
	keyless, err := NewSession(f.repo, nil)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := keyless.Verify(t.Context(), VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() {
		t.Errorf("without a key the swap is invisible, yet verify reported %v", rep.Problems())
	}
	s := f.session()
	rep, _ = s.Verify(t.Context(), VerifyOptions{})
	if rep.Files[0].Status != StatusMACInvalid {
		t.Errorf("with a key: status %q, want %q (%v)", rep.Files[0].Status, StatusMACInvalid, rep.Problems())
	}

	// An altered ciphertext fails GCM authentication.
	i := strings.Index(a, "data:") + len("data:")
	repl := "A"
	if a[i] == 'A' {
		repl = "B"
	}
	flipped := a[:i] + repl + a[i+1:] // still base64: only GCM notices
	altered := strings.Replace(string(orig), a, flipped, 1)
	if _, err := f.session().Open(path, []byte(altered)); !errors.Is(err, ErrValue) {
		t.Errorf("altered value: got %v, want %v", err, ErrValue)
	}
	testutil.WriteFile(t, path, []byte(altered), 0o644)
	rep, _ = f.session().Verify(t.Context(), VerifyOptions{})
	if rep.Files[0].Status != StatusMACInvalid {
		t.Errorf("altered value: status %q (%v)", rep.Files[0].Status, rep.Problems())
	}
}

func TestVerifyPlaintextAndDrift(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	good := f.add("kubeconfig/ok.yml", []byte("token: hunter2\n"))
	planted := f.add("kubeconfig/planted.yml", []byte("a: b\n"))
	enc, _ := os.ReadFile(planted)
	testutil.WriteFile(t, planted, []byte("password: hunter2\n"+string(enc)), 0o644)
	testutil.WriteFile(t, filepath.Join(f.repo.Dir, "notes.txt"), []byte("hunter2\n"), 0o644)
	testutil.WriteFile(t, filepath.Join(f.repo.Dir, ".env"), []byte("PASSWORD=hunter2\n"), 0o644)
	// A folder's README is documentation, skipped; a README.yaml could be a
	// secret and is checked.
	testutil.WriteFile(t, filepath.Join(f.repo.Dir, "kubeconfig", "README"), []byte("Kubeconfigs encrypted with sops live here.\n"), 0o644)
	testutil.WriteFile(t, filepath.Join(f.repo.Dir, "README.md"), []byte("# Secrets\n"), 0o644)
	testutil.WriteFile(t, filepath.Join(f.repo.Dir, "README.yaml"), []byte("token: hunter2\n"), 0o644)

	rep, err := f.session().Verify(t.Context(), VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	status := map[string]string{}
	for _, fs := range rep.Files {
		status[fs.Path] = fs.Status
	}
	want := map[string]string{
		"secrets/kubeconfig/ok.yml":      StatusOK,
		"secrets/kubeconfig/planted.yml": StatusPlaintext,
		"secrets/notes.txt":              StatusPlaintext,
		"secrets/.env":                   StatusPlaintext,
		"secrets/README.yaml":            StatusPlaintext,
	}
	if !reflect.DeepEqual(status, want) {
		t.Errorf("statuses = %v, want %v", status, want)
	}
	js, _ := json.Marshal(rep)
	if strings.Contains(string(js), "hunter2") {
		t.Errorf("the report leaks a value: %s", js)
	}
	if !strings.Contains(strings.Join(rep.Problems(), "\n"), "value at password is not encrypted") {
		t.Errorf("problems do not name the plaintext key: %v", rep.Problems())
	}

	// Drift: a recipient added to .sops.yaml but not to the file.
	_, other := writeKey(t)
	c, _ := LoadSopsConfig(f.repo.Config)
	c = addKey(t, c, "laptop", other)
	testutil.WriteFile(t, f.repo.Config, c.Data, 0o644)
	os.Remove(planted)
	os.Remove(filepath.Join(f.repo.Dir, "notes.txt"))
	os.Remove(filepath.Join(f.repo.Dir, ".env"))
	os.Remove(filepath.Join(f.repo.Dir, "README.yaml"))
	rep, _ = f.session().Verify(t.Context(), VerifyOptions{})
	if rep.Files[0].Status != StatusDrift || !strings.Contains(rep.Files[0].Problems[0], "missing laptop") {
		t.Errorf("drift: %+v", rep.Files[0])
	}
	out, res, err := f.session().Rekey(good, mustRead(t, good))
	if err != nil || !res.Changed || res.Rotated {
		t.Fatalf("rekey: %+v %v", res, err)
	}
	testutil.WriteFile(t, good, out, 0o644)
	rep, _ = f.session().Verify(t.Context(), VerifyOptions{})
	if !rep.OK() {
		t.Errorf("after rekey: %v", rep.Problems())
	}
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sops logs some values (an unencrypted comment) at warning level: once a
// session exists, none of its loggers writes anywhere.
func TestSopsLoggersAreSilenced(t *testing.T) {
	t.Parallel()
	newFixture(t).session()
	for name, l := range logging.Loggers {
		if l.Out != io.Discard {
			t.Errorf("sops logger %s still writes", name)
		}
	}
}

// Names and keys from a hostile repository cannot drive the terminal.
func TestVerifyQuotesControlCharacters(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	testutil.WriteFile(t, filepath.Join(f.repo.Dir, "evil\x1b[2J\nname.yml"), []byte("a: b\n"), 0o644)
	p := f.add("k.yml", []byte("a: b\n"))
	enc := mustRead(t, p)
	testutil.WriteFile(t, p, append([]byte("\"x\\e[31m\": plain\n"), enc...), 0o644)
	rep, err := f.session().Verify(t.Context(), VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range rep.Problems() {
		if strings.ContainsAny(line, "\x1b\n") {
			t.Errorf("control characters reach the output: %q", line)
		}
	}
	if len(rep.Problems()) < 3 {
		t.Errorf("problems: %q", rep.Problems())
	}
}
