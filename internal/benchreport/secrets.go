package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/nixctl/nixctl/internal/execx"
	"github.com/nixctl/nixctl/internal/fsx"
	"github.com/nixctl/nixctl/internal/secrets"
)

// secretsFiles is how many files the verify comparison checks.
const secretsFiles = 200

func init() {
	register(comparison{
		name:  "secrets-verify",
		needs: []string{"sops"},
		run: func(ctx context.Context, e *env) (row, error) {
			fleet := filepath.Join(e.tmp, "secrets-fleet")
			keyFile := filepath.Join(e.tmp, "secrets-home", "keys.txt")
			vars := []string{"HOME=" + filepath.Join(e.tmp, "secrets-home"), "SOPS_AGE_KEY_FILE=" + keyFile}
			if err := os.MkdirAll(fleet, 0o755); err != nil {
				return row{}, err
			}
			if err := os.WriteFile(filepath.Join(fleet, "nixctl.yaml"), []byte("hosts: []\n"), 0o644); err != nil {
				return row{}, err
			}
			if _, _, err := timeCmd(ctx, e.r, execx.Cmd{Argv: []string{e.nixctl, "secrets", "init", "--name", "bench"}, Dir: fleet, Env: vars}); err != nil {
				return row{}, err
			}
			files, err := writeSecrets(fleet)
			if err != nil {
				return row{}, err
			}
			// The baseline is what a script does today: sops -d on each file
			// (which checks each MAC, as verify does with a key).
			loop := func() (time.Duration, error) {
				start := time.Now()
				for _, f := range files {
					if _, _, err := timeCmd(ctx, e.r, execx.Cmd{Argv: []string{"sops", "-d", f}, Dir: fleet, Env: vars}); err != nil {
						return 0, err
					}
				}
				return time.Since(start), nil
			}
			ours, theirs, err := sideBySide(ctx, max(1, e.runs/2),
				func() (time.Duration, error) {
					d, _, err := timeCmd(ctx, e.r, execx.Cmd{Argv: []string{e.nixctl, "secrets", "verify", "--quiet"}, Dir: fleet, Env: vars})
					return d, err
				}, loop)
			if err != nil {
				return row{}, err
			}
			ratio, f := speed(ours, theirs)
			return row{what: fmt.Sprintf("secrets: nixctl secrets verify (%d files, MACs) vs a loop of sops -d", secretsFiles), ours: ms(ours), baseline: ms(theirs), ratio: ratio,
				goal: "faster than the loop (one process; ratio ≥ 5x)", met: f >= 5}, nil
		},
	})
}

// writeSecrets encrypts secretsFiles small YAML files in-process.
func writeSecrets(fleet string) ([]string, error) {
	repo := secrets.Repo{Root: fleet, Dir: filepath.Join(fleet, "secrets"), Config: filepath.Join(fleet, ".sops.yaml")}
	s, err := secrets.NewSession(repo, nil)
	if err != nil {
		return nil, err
	}
	var files []string
	for i := 0; i < secretsFiles; i++ {
		p := filepath.Join(repo.Dir, "bench", fmt.Sprintf("s%03d.yml", i))
		out, _, err := s.Encrypt(p, secrets.YAML, []byte(fmt.Sprintf("user: u%d\npassword: p%d\nlist:\n  - a\n  - b\n", i, i)))
		if err != nil {
			return nil, err
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return nil, err
		}
		if err := fsx.WriteFile(p, out, 0o644); err != nil {
			return nil, err
		}
		files = append(files, p)
	}
	return files, nil
}
