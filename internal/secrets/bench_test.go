package secrets

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/nixctl/nixctl/internal/execx"
	"github.com/nixctl/nixctl/internal/fsx"
	"github.com/nixctl/nixctl/internal/testutil"
)

// BenchmarkVerify200 checks 200 files: structure and recipients only (no
// key, what CI without secrets does), and with the key (every MAC).
func BenchmarkVerify200(b *testing.B) {
	root, home := b.TempDir(), b.TempDir()
	env := Env{Home: home, Runner: execx.NewReal()}
	repo := Repo{Root: root, Dir: filepath.Join(root, "secrets"), Config: filepath.Join(root, ".sops.yaml")}
	if _, err := Init(repo, env, "bench", time.Now(), fsx.Disk{}); err != nil {
		b.Fatal(err)
	}
	s, err := NewSession(repo, nil)
	if err != nil {
		b.Fatal(err)
	}
	testutil.MkdirAll(b, filepath.Join(repo.Dir, "bench"), 0o755)
	for i := 0; i < 200; i++ {
		p := filepath.Join(repo.Dir, "bench", fmt.Sprintf("s%03d.yml", i))
		out, _, err := s.Encrypt(p, YAML, []byte(fmt.Sprintf("user: u%d\npassword: p%d\n", i, i)))
		if err != nil {
			b.Fatal(err)
		}
		testutil.WriteFile(b, p, out, 0o644)
	}
	for _, withKey := range []bool{false, true} {
		b.Run(fmt.Sprintf("key=%v", withKey), func(b *testing.B) {
			for b.Loop() {
				var keys *Keyring
				if withKey {
					keys = LoadKeyring(context.Background(), env)
				}
				s, err := NewSession(repo, keys)
				if err != nil {
					b.Fatal(err)
				}
				rep, err := s.Verify(context.Background(), VerifyOptions{})
				if err != nil || !rep.OK() || len(rep.Files) != 200 {
					b.Fatalf("verify: %v %v", err, rep.Problems())
				}
			}
		})
	}
}
