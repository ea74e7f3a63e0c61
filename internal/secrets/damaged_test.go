package secrets

import (
	"errors"
	"strings"
	"testing"

	"github.com/nixctl/nixctl/internal/testutil"
)

// A sops file cut short is damaged, not plaintext: the hint must not be
// "encrypt it and delete this copy" but "restore it from git".
func TestTruncatedFileIsDamaged(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for _, s := range samples {
		path := f.add(s.name, []byte(s.plain))
		data := mustRead(t, path)
		cut := data[:len(data)/2]
		if _, err := f.session().Open(path, cut); !errors.Is(err, ErrDamaged) {
			t.Errorf("%s cut in half: %v, want %v", s.name, err, ErrDamaged)
		}
		if err := f.session().fileError(path, ErrDamaged); !strings.Contains(err.Error(), "truncated") {
			t.Errorf("error: %v", err)
		}
		testutil.WriteFile(t, path, cut, 0o644)
	}
	rep, err := f.session().Verify(t.Context(), VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, fs := range rep.Files {
		if fs.Status != StatusUnreadable || !strings.Contains(fs.Problems[0], "restore it from git") {
			t.Errorf("%s: %s %v", fs.Path, fs.Status, fs.Problems)
		}
	}
}

// Rekey for a new reader checks the values first: a tampered file is
// reported, not rewrapped for one more key.
func TestRekeyRefusesTamperedFile(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	path := f.add("app.yml", []byte("password: hunter2\n"))
	data := string(mustRead(t, path))
	i := strings.Index(data, "ENC[AES256_GCM,data:") + len("ENC[AES256_GCM,data:")
	flip := "A"
	if data[i] == 'A' {
		flip = "B"
	}
	tampered := []byte(data[:i] + flip + data[i+1:])
	_, other := writeKey(t)
	c, _ := LoadSopsConfig(f.repo.Config)
	c = addKey(t, c, "laptop", other)
	testutil.WriteFile(t, f.repo.Config, c.Data, 0o644)
	if _, _, err := f.session().Rekey(path, tampered); !errors.Is(err, ErrValue) {
		t.Errorf("rekey of a tampered file: %v, want %v", err, ErrValue)
	}
	if _, res, err := f.session().Rekey(path, []byte(data)); err != nil || !res.Changed {
		t.Errorf("rekey of the intact file: %+v %v", res, err)
	}
}
