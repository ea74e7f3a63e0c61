package fakecmd

import (
	"strings"
	"testing"

	"github.com/nixctl/nixctl/internal/nix"
)

// Each flavour of the fake answers nixctl's probe as the real one does, and
// only ng takes --store-path (and lists it in its usage text).
func TestRebuildFlavours(t *testing.T) {
	t.Parallel()
	probe := nix.RebuildProbe()[1:]
	for _, c := range []struct {
		flavour   string
		want      nix.Flavour
		storePath bool
	}{{FlavourBash, nix.FlavourBash, false}, {FlavourNG, nix.FlavourNG, true}} {
		exit, stderr, ok := refuseRebuildArgs(c.flavour, probe)
		if ok {
			t.Fatalf("%s took the probe's flag", c.flavour)
		}
		if f, known := nix.ParseProbe(exit, stderr); f != c.want || !known || nix.ProbeHasStorePath(exit, stderr) != c.storePath {
			t.Errorf("%s: probe read as %s (%v), --store-path %v:\n%s", c.flavour, f, known, !c.storePath, stderr)
		}
	}
	storePath := []string{"switch", "--store-path", "/nix/store/abc-nixos-system-web", "--target-host", "root@h", "--sudo"}
	if _, _, ok := refuseRebuildArgs(FlavourNG, storePath); !ok {
		t.Error("ng must take --store-path and --sudo")
	}
	exit, stderr, ok := refuseRebuildArgs(FlavourBash, storePath)
	if ok || exit != 1 || stderr != "nixos-rebuild: unknown option `--store-path'\n" {
		t.Errorf("bash must refuse --store-path as it refuses any unknown option: %d %q", exit, stderr)
	}
	exit, stderr, _ = refuseRebuildArgs(FlavourNG, []string{"switch", "--flake", "/f#web", "--bogus"})
	if exit != 2 || !strings.HasPrefix(stderr, "usage: nixos-rebuild ") || !strings.HasSuffix(stderr, "error: unrecognized arguments: --bogus\n") {
		t.Errorf("ng refusal: %d %q", exit, stderr)
	}
	// Values are not taken for flags: a flake path that looks like one is fine.
	bash := []string{"switch", "--flake", "/f#web", "--target-host", "root@h", "--use-remote-sudo", "--option", "cores", "2", "--show-trace", "--use-substitutes"}
	if _, stderr, ok := refuseRebuildArgs(FlavourBash, bash); !ok {
		t.Errorf("bash refused its own flags: %s", stderr)
	}
}
