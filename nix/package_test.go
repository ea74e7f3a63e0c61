package nixfiles

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/nixctl/nixctl/internal/testutil"
)

var vendorHashRe = regexp.MustCompile(`(?m)^\s*vendorHash = "([^"]*)";`)

// checkVendorHash compares the vendorHash written in a package.nix with the
// real hash of `go mod vendor`, and says which value to write when they differ.
func checkVendorHash(packageNix []byte, actual string) error {
	m := vendorHashRe.FindSubmatch(packageNix)
	if m == nil {
		return fmt.Errorf("nix/package.nix has no vendorHash = \"...\"; line")
	}
	if got := string(m[1]); got != actual {
		return fmt.Errorf("nix/package.nix has vendorHash = %q but go mod vendor hashes to %q: write vendorHash = \"%s\";", got, actual, actual)
	}
	return nil
}

var vendorOnce struct {
	sync.Once
	hash string
	err  error
}

// vendorHash runs `go mod vendor` into a temp dir and hashes it the way
// buildGoModule's vendor derivation is hashed (NAR, sha256, SRI).
func vendorHash(t *testing.T) string {
	t.Helper()
	testutil.Require(t, "go", "nix")
	root := testutil.RepoRoot(t)
	vendorOnce.Do(func() {
		dir, err := os.MkdirTemp("", "nixctl-vendor-")
		if err != nil {
			vendorOnce.err = err
			return
		}
		defer os.RemoveAll(dir)
		out := filepath.Join(dir, "vendor")
		cmd := exec.Command("go", "mod", "vendor", "-o", out)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off")
		if b, err := cmd.CombinedOutput(); err != nil {
			vendorOnce.err = fmt.Errorf("go mod vendor: %w\n%s", err, b)
			return
		}
		b, err := exec.Command("nix", "--extra-experimental-features", "nix-command", "hash", "path", "--type", "sha256", "--sri", out).Output()
		if err != nil {
			vendorOnce.err = fmt.Errorf("nix hash path: %w", err)
			return
		}
		vendorOnce.hash = strings.TrimSpace(string(b))
	})
	if vendorOnce.err != nil {
		t.Fatal(vendorOnce.err)
	}
	return vendorOnce.hash
}

func TestVendorHashMatchesGoModVendor(t *testing.T) {
	actual := vendorHash(t)
	if !strings.HasPrefix(actual, "sha256-") {
		t.Fatalf("nix hash path printed %q, want an SRI sha256 hash", actual)
	}
	data, err := os.ReadFile(filepath.Join(testutil.RepoRoot(t), "nix", "package.nix"))
	if err != nil {
		t.Fatal(err)
	}
	if err := checkVendorHash(data, actual); err != nil {
		t.Fatal(err)
	}
}

func TestVendorHashCheckCatchesAWrongHash(t *testing.T) {
	actual := vendorHash(t)
	data, err := os.ReadFile(filepath.Join(testutil.RepoRoot(t), "nix", "package.nix"))
	if err != nil {
		t.Fatal(err)
	}
	wrong := vendorHashRe.ReplaceAll(data, []byte(`  vendorHash = "sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";`))
	err = checkVendorHash(wrong, actual)
	if err == nil {
		t.Fatal("a wrong vendorHash passed the check")
	}
	if !strings.Contains(err.Error(), `vendorHash = "`+actual+`";`) {
		t.Errorf("the error does not give the right value %s: %v", actual, err)
	}
	if err := checkVendorHash([]byte("{ }"), actual); err == nil {
		t.Error("a package.nix without vendorHash passed the check")
	}
}

// The flake builds with buildGo1NNModule; that Go must satisfy go.mod's go line.
func TestFlakeGoSatisfiesGoMod(t *testing.T) {
	root := testutil.RepoRoot(t)
	gomod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	flake, err := os.ReadFile(filepath.Join(root, "flake.nix"))
	if err != nil {
		t.Fatal(err)
	}
	want := regexp.MustCompile(`(?m)^go 1\.([0-9]+)`).FindSubmatch(gomod)
	got := regexp.MustCompile(`buildGo1([0-9]+)Module`).FindSubmatch(flake)
	goAttr := regexp.MustCompile(`go = pkgs\.go_1_([0-9]+);`).FindSubmatch(flake)
	if want == nil || got == nil || goAttr == nil {
		t.Fatalf("go.mod's go line or flake.nix's buildGo1NNModule / go_1_NN not found")
	}
	w, _ := strconv.Atoi(string(want[1]))
	g, _ := strconv.Atoi(string(got[1]))
	if g < w {
		t.Errorf("flake.nix builds with Go 1.%d, go.mod needs 1.%d", g, w)
	}
	if string(goAttr[1]) != string(got[1]) {
		t.Errorf("flake.nix passes go_1_%s but builds with buildGo1%sModule", goAttr[1], got[1])
	}
	// A .0 patch of the minor go.mod names may still be too old (1.25.0 < 1.25.8):
	// package.nix asserts the full version at evaluation time.
	pkg, err := os.ReadFile(filepath.Join(root, "nix", "package.nix"))
	if err != nil {
		t.Fatal(err)
	}
	line := regexp.MustCompile(`(?m)^go (1\.[0-9.]+)`).FindSubmatch(gomod)
	if !strings.Contains(string(pkg), `lib.versionAtLeast go.version "`+string(line[1])+`"`) {
		t.Errorf("nix/package.nix does not assert Go >= %s (go.mod's go line)", line[1])
	}
}
