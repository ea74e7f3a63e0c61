package secrets

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nixctl/nixctl/internal/testutil"
)

func statusOf(t *testing.T, rep *VerifyReport, path string) FileStatus {
	t.Helper()
	for _, f := range rep.Files {
		if f.Path == path {
			return f
		}
	}
	t.Fatalf("%s not in the report: %+v", path, rep.Files)
	return FileStatus{}
}

// Files under pgp and pgp+age rules match their rule (compared by
// fingerprint) and show the pgp key's anchor; files whose rule has no
// anchors show whole recipients; a file that really carries keys its rule
// does not list is the only drift.
func TestVerifyTellsTheTruthOnTheCorpus(t *testing.T) {
	t.Parallel()
	cases := []struct {
		sub, dir, path string
		drift          bool
		names          []string
	}{
		{"misterio77", ".", "hosts/merope/secrets.yaml", false, []string{"merope", "misterio"}},
		{"misterio77", ".", "hosts/common/secrets.yaml", false, []string{"atlas", "misterio"}},
		{"flux", "sops", "sops/algorithms/pgp.yaml", false, []string{"pgp"}},
		{"flux", "sops", "sops/algorithms/age.yaml", false, []string{"age"}},
		{"tuckershea", ".", "hosts/vic/secrets/host_secrets.+vic.yaml", false, []string{"tuckershea_AT_elmira", "root_AT_vic"}},
		{"nix-community-infra", ".", "hosts/web01/secrets.yaml", false, []string{"age1dzvjjum2p240qtdt2qcxpm7pl2s5w36mh4fs3q9dhhq0uezvdqaq9vrgfy"}},
		{"sops-nix", "secrets", "secrets/secrets.yaml", true, []string{"testkey", "sshkey"}},
	}
	for _, c := range cases {
		t.Run(c.sub+"/"+c.path, func(t *testing.T) {
			f := newCorpusFleet(t, c.sub, c.dir)
			rep, err := f.session(t).Verify(t.Context(), VerifyOptions{})
			if err != nil {
				t.Fatal(err)
			}
			st := statusOf(t, rep, c.path)
			drift := strings.Contains(strings.Join(st.Problems, " "), StatusDrift)
			if drift != c.drift {
				t.Errorf("drift reported %v, want %v: %v", drift, c.drift, st.Problems)
			}
			for _, n := range c.names {
				if !slices.Contains(st.Recipients, n) {
					t.Errorf("recipients %v lack %s", st.Recipients, n)
				}
			}
			for _, r := range st.Recipients {
				if strings.Contains(r, "…") {
					t.Errorf("a recipient is shortened: %s", r)
				}
			}
			if len(st.Keys) != len(st.Recipients) {
				t.Errorf("keys %v for recipients %v", st.Keys, st.Recipients)
			}
		})
	}
}

// A value under a key that is not a string (8080:, true:) is a secret too.
func TestVerifyFindsPlaintextUnderAnyKey(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	path := f.add("app/ports.yml", []byte("name: x\n"))
	data := mustRead(t, path)
	testutil.WriteFile(t, path, append([]byte("8080: hunter2\ntrue: hunter3\n"), data...), 0o644)
	rep, err := f.session().Verify(t.Context(), VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	st := statusOf(t, rep, filepath.ToSlash(filepath.Join("secrets", "app", "ports.yml")))
	got := strings.Join(st.Problems, "\n")
	if !strings.Contains(got, "PLAINTEXT: value at 8080") || !strings.Contains(got, "PLAINTEXT: value at true") || strings.Contains(got, "hunter") {
		t.Errorf("problems:\n%s", got)
	}
}
