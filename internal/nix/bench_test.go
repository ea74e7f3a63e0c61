package nix

import (
	"bytes"
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

// BenchmarkEvalMany1000 assembles the expression that evaluates 1000 items
// in one process (hosts alone, and hosts and profiles over the flake's
// outputs), then parses what nix prints for them: its traces on stderr
// (read live) and the list on stdout.
func BenchmarkEvalMany1000(b *testing.B) {
	b.Run("hosts", func(b *testing.B) {
		benchEvalMany(b, func(items []EvalItem) []string { return EvalMany("/fleet", "nixosConfigurations", items) }, false)
	})
	b.Run("hosts+profiles", func(b *testing.B) {
		benchEvalMany(b, func(items []EvalItem) []string { return EvalManyOutputs("/fleet", items) }, true)
	})
}

func benchEvalMany(b *testing.B, argvOf func([]EvalItem) []string, mixed bool) {
	items := make([]EvalItem, 1000)
	var stderr, stdout []byte
	stdout = append(stdout, '[')
	for i := range items {
		items[i] = EvalItem{Output: "nixosConfigurations", Attr: fmt.Sprintf("host-%d", i), Path: []string{"config", "system", "build", "toplevel"}}
		if mixed && i%2 == 1 {
			items[i] = EvalItem{Output: "homeConfigurations", Attr: fmt.Sprintf("user@host-%d", i), Path: []string{"activationPackage"}}
		}
		done := fmt.Sprintf(`nixctl-eval done %d {"d":"/nix/store/s2cfd5pncqx5vzspj74z2fdpb9wcbnm%03d-nixos-system-host-%d.drv","o":"/nix/store/scjh1jsxh1r94mps6xbwfg4h8jb5y%03d-nixos-system-host-%d"}`, i, i, i, i, i)
		stderr = fmt.Appendf(stderr, "@nix {\"action\":\"msg\",\"level\":0,\"msg\":\"trace: nixctl-eval start %d\"}\n", i)
		stderr = fmt.Appendf(stderr, "@nix {\"action\":\"msg\",\"level\":0,\"msg\":%q}\n", "trace: "+done)
		if i > 0 {
			stdout = append(stdout, ',')
		}
		stdout = fmt.Appendf(stdout, "%q", done)
	}
	stdout = append(stdout, ']')
	for b.Loop() {
		argv := argvOf(items)
		if len(argv) < 5 {
			b.Fatal("no argv")
		}
		n := 0
		for _, line := range bytes.Split(stderr, []byte("\n")) {
			if ev, ok := ParseEvalLine(line); ok && ev.Status == EvalDone {
				n++
			}
		}
		evs, err := ParseEvalOutput(stdout)
		if err != nil || len(evs) != 1000 || n != 1000 {
			b.Fatalf("parsed %d traces, %d results: %v", n, len(evs), err)
		}
	}
}
