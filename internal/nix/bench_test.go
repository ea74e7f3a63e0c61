package nix

import (
	"fmt"
	"testing"
)

// BenchmarkParseDiffClosures parses a diff of 500 packages.
func BenchmarkParseDiffClosures(b *testing.B) {
	var out string
	for i := range 500 {
		out += fmt.Sprintf("pkg%d: %d.0 → %d.1, \x1b[31;1m+%d.5 KiB\x1b[0m\n", i, i, i, i+8)
	}
	for b.Loop() {
		if len(ParseDiffClosures(out)) != 500 {
			b.Fatal("lost changes")
		}
	}
}
