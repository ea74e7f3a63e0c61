package secrets

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nixctl/nixctl/internal/testutil"
)

// corpusProjects are the corpus directories with their secrets directory
// (where .sops.yaml is, when there is one) and the published age keys.
var corpusProjects = []struct{ sub, dir string }{
	{"flux", "sops"},
	{"sops-nix", "secrets"},
	{"helm-secrets", "."},
	{"misterio77", "."},
	{"tuckershea", "."},
	{"nix-community-infra", "."},
	{"bert-proesmans", "flake"},
}

// allCorpusKeys joins every published age key of the corpus into one file.
func allCorpusKeys(t *testing.T) string {
	t.Helper()
	corpus := testutil.WorldSops(t)
	var b bytes.Buffer
	for _, k := range []string{"flux/keys/age.txt", "flux/keys/age-global.txt", "flux/keys/age-pq.txt", "sops-nix/keys/age-keys.txt", "helm-secrets/key.txt"} {
		data, err := os.ReadFile(filepath.Join(corpus, k))
		if err != nil {
			t.Fatal(err)
		}
		b.Write(data)
		b.WriteString("\n")
	}
	p := filepath.Join(t.TempDir(), "keys.txt")
	testutil.WriteFile(t, p, b.Bytes(), 0o600)
	return p
}

// cat, and so edit, verify and list, which read files the same way, agree
// with sops -d byte for byte on every corpus file a published key opens,
// sops-nix's INI file (re-encrypted here for an age key) included.
func TestCatAgreesWithSopsOnTheCorpus(t *testing.T) {
	testutil.Require(t, "sops")
	keys := allCorpusKeys(t)
	compared := 0
	for _, p := range corpusProjects {
		f := newCorpusFleet(t, p.sub, p.dir)
		f.keys = []string{keys}
		if p.sub == "sops-nix" {
			// An age INI file: the corpus's plaintext encrypted by sops.
			plain := filepath.Join(f.root, "secrets", "age.ini")
			testutil.WriteFile(t, plain, mustRead(t, filepath.Join(f.root, "secrets.ini.plain")), 0o600)
			if out, err := sopsCmd(t, f.repo.Dir, keys, "-e", "--age", "age1yt3tfqlfrwdwx0z0ynwplcr6qxcxfaqycuprpmy89nr83ltx74tqdpszlw", "age.ini"); err != nil {
				t.Fatal(err)
			} else {
				testutil.WriteFile(t, plain, out, 0o644)
			}
		}
		s := f.session(t)
		if err := filepath.WalkDir(f.repo.Dir, func(path string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() || d.Name() == ".sops.yaml" {
				return nil
			}
			rel, _ := filepath.Rel(f.repo.Dir, path)
			want, serr := sopsCmd(t, f.repo.Dir, keys, "-d", rel)
			got, nerr := s.Cat(rel, "")
			if serr != nil {
				if nerr == nil {
					t.Errorf("%s/%s: nixctl opens a file sops does not (%v)", p.sub, rel, serr)
				}
				return nil
			}
			compared++
			if nerr != nil {
				t.Errorf("%s/%s: sops opens it, nixctl: %v", p.sub, rel, nerr)
			} else if !bytes.Equal(got, want) {
				t.Errorf("%s/%s: nixctl cat differs from sops -d:\n%q\n%q", p.sub, rel, got, want)
			}
			st := s.check(candidate{abs: path, read: func() ([]byte, error) { return os.ReadFile(path) }})
			if !st.MACChecked || strings.Contains(strings.Join(st.Problems, " "), StatusMACInvalid) {
				t.Errorf("%s/%s: verify says %v (MAC checked %v)", p.sub, rel, st.Problems, st.MACChecked)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%d corpus files compared with sops -d", compared)
	if compared < 9 {
		t.Errorf("only %d corpus files compared", compared)
	}
}

// sops picks the format from the extension, case included; --input-type
// overrides it.
func TestFormatsAsSopsPicksThem(t *testing.T) {
	t.Parallel()
	for path, want := range map[string]Format{"a.yaml": YAML, "a.yml": YAML, "a.json": JSON, "a.env": Dotenv, "a.ini": INI, "a.YAML": Binary, "a.enc": Binary, "a": Binary, "x.yaml.enc": Binary} {
		if got := FormatOf(path); got != want {
			t.Errorf("FormatOf(%s) = %s, want %s", path, got, want)
		}
	}
	s := &Session{InputType: INI}
	if s.formatFor("secrets.enc") != INI {
		t.Error("--input-type ignored")
	}
}
