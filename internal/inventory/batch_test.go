package inventory

import (
	"errors"
	"strings"
	"testing"
)

func TestDefaultsBatchAndCache(t *testing.T) {
	t.Parallel()
	f, err := Parse("nixctl.yaml", []byte("defaults:\n  batch: 25%\n  cache: file:///srv/nix-cache\n"))
	if err != nil {
		t.Fatal(err)
	}
	if f.Defaults.Batch != (Batch{N: 25, Percent: true}) || f.Defaults.Cache != "file:///srv/nix-cache" {
		t.Fatalf("defaults %+v", f.Defaults)
	}
	if f, err = Parse("nixctl.yaml", []byte("defaults:\n  batch: 3\n")); err != nil || f.Defaults.Batch != (Batch{N: 3}) {
		t.Fatalf("batch: 3: %+v %v", f, err)
	}
	if f, _ = Parse("nixctl.yaml", []byte("hosts: []\n")); !f.Defaults.Batch.IsZero() || f.Defaults.Cache != "" {
		t.Fatalf("no batch and no cache by default: %+v", f.Defaults)
	}
}

func TestDefaultsBatchAndCacheProblemsHaveLines(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, yaml, want string
		line             int
	}{
		{"zero", "defaults:\n  parallel: 2\n  batch: 0\n", "defaults.batch: a batch holds at least 1 host, got 0", 3},
		{"percent range", "defaults:\n  batch: 150%\n", "150% is not a percentage between 1% and 100%", 2},
		{"word", "defaults:\n  batch: half\n", `"half" is not a batch size`, 2},
		{"list", "defaults:\n  batch: [1]\n", "must be a number of hosts (5) or a percentage (25%)", 2},
		{"negative", "defaults:\n  batch: -2\n", "at least 1 host", 2},
		{"cache scheme", "defaults:\n  cache: ftp://cache\n", "is not a binary cache URL", 2},
		{"cache option", "defaults:\n  cache: --to\n", "is not a binary cache URL", 2},
		{"cache relative file", "defaults:\n  cache: file://cache\n", "is not a binary cache URL", 2},
		{"cache space", "defaults:\n\n  cache: 's3://bucket x'\n", "is not a binary cache URL", 3},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("nixctl.yaml", []byte(c.yaml))
			var ve *ValidationError
			if !errors.As(err, &ve) || len(ve.Problems) != 1 {
				t.Fatalf("want one problem, got %v", err)
			}
			if !strings.Contains(err.Error(), c.want) || ve.Problems[0].Line != c.line {
				t.Errorf("problem %+v, want %q at line %d", ve.Problems[0], c.want, c.line)
			}
		})
	}
}

func TestBatchSize(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in    string
		total int
		want  int
	}{
		{"1", 10, 1}, {"4", 10, 4}, {"25%", 10, 3}, {"10%", 5, 1}, {"100%", 7, 7}, {"50%", 1, 1},
	}
	for _, c := range cases {
		b, problem := ParseBatch(c.in)
		if problem != "" {
			t.Fatalf("%s: %s", c.in, problem)
		}
		if got := b.Size(c.total); got != c.want || b.String() != c.in {
			t.Errorf("%s of %d: %d hosts (%s), want %d", c.in, c.total, got, b, c.want)
		}
	}
	if (Batch{}).Size(6) != 6 {
		t.Error("no batch size: one batch of every host")
	}
}
