package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/nixctl/nixctl/internal/testutil"
)

func gitLsFiles(t *testing.T, dir string) []string {
	t.Helper()
	out, err := exec.Command("git", "-C", dir, "ls-files").Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.Fields(string(out))
}

// In a git repository, host add and profile add make their new files
// tracked and say so; the flake then evaluates the new host with real nix,
// which it could not do from untracked files.
func TestAddInGitRepositoryTracksTheNewFiles(t *testing.T) {
	testutil.Require(t, "nix", "git")
	parent := t.TempDir()
	env := map[string]string{"USER": "alice", "HOME": parent, "PATH": os.Getenv("PATH")}
	if r := runWith(t, parent, env, nil, "init", "fleet", "--host", "mini", "--address", "10.0.0.7", "--git"); r.code != 0 {
		t.Fatalf("init: exit %d: %s", r.code, r.errOut)
	}
	fleet := filepath.Join(parent, "fleet")
	stubInputs(t, fleet)

	r := runWith(t, fleet, env, nil, "host", "add", "web-1", "--address", "10.0.0.8")
	if r.code != 0 || !strings.Contains(r.out, "git add --intent-to-add: the new files are tracked") {
		t.Fatalf("host add: exit %d\n%s%s", r.code, r.out, r.errOut)
	}
	if r := runWith(t, fleet, env, nil, "profile", "add", "work"); r.code != 0 || !strings.Contains(r.out, "git add --intent-to-add") {
		t.Fatalf("profile add: exit %d\n%s%s", r.code, r.out, r.errOut)
	}
	tracked := gitLsFiles(t, fleet)
	for _, want := range []string{"hosts/web-1/configuration.nix", "hosts/web-1/hardware-configuration.nix", "home/work.nix"} {
		if !slices.Contains(tracked, want) {
			t.Errorf("%s is not tracked: %v", want, tracked)
		}
	}
	if r := runWith(t, fleet, env, nil, "check", "--no-build", "web-1", "work"); r.code != 0 {
		t.Errorf("check web-1 work: exit %d\n%s%s", r.code, r.out, r.errOut)
	}

	// Without the intent-to-add, the same flake cannot see the host's file:
	// what the test above proves is the staging, not the template.
	if out, err := exec.Command("git", "-C", fleet, "rm", "--cached", "--quiet", "-r", "hosts/web-1").CombinedOutput(); err != nil {
		t.Fatalf("git rm --cached: %v\n%s", err, out)
	}
	if r := runWith(t, fleet, env, nil, "check", "--no-build", "web-1"); r.code == 0 {
		t.Error("check passed with hosts/web-1 untracked: the test proves nothing")
	}
}

// The README's example of a custom marker imports the file host add writes.
func TestREADMECustomMarkerNamesTheWrittenFile(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile(filepath.Join(testutil.RepoRoot(t), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("`# nixctl:add-host (NAME = [^`]*)`").FindSubmatch(readme)
	if m == nil {
		t.Fatal("README has no custom add-host marker example")
	}
	path := regexp.MustCompile(`\./(hosts/NAME[^ ;)]*)`).FindSubmatch(m[1])
	if path == nil {
		t.Fatalf("the README's marker %q imports no ./hosts/ file", m[1])
	}
	parent := t.TempDir()
	env := map[string]string{"USER": "alice"}
	if r := runWith(t, parent, env, nil, "init", "f"); r.code != 0 {
		t.Fatalf("init: %s", r.errOut)
	}
	dir := filepath.Join(parent, "f")
	flake := filepath.Join(dir, "flake.nix")
	b, _ := os.ReadFile(flake)
	custom := strings.Replace(string(b), `# nixctl:add-host NAME = mkHost "NAME";`, "# nixctl:add-host "+string(m[1]), 1)
	if custom == string(b) {
		t.Fatal("the template's marker changed; update this test")
	}
	testutil.WriteFile(t, flake, []byte(custom), 0o644)
	r := runWith(t, dir, env, nil, "host", "add", "web-1", "--address", "10.0.0.8")
	if r.code != 0 {
		t.Fatalf("host add: exit %d\n%s", r.code, r.errOut)
	}
	want := strings.ReplaceAll(string(path[1]), "NAME", "web-1")
	if !strings.Contains(r.out, "create "+want+"\n") {
		t.Errorf("the README's marker imports ./%s, but host add wrote:\n%s", want, r.out)
	}
	after, _ := os.ReadFile(flake)
	if !strings.Contains(string(after), "./"+want) {
		t.Errorf("flake.nix does not import ./%s:\n%s", want, after)
	}
}
