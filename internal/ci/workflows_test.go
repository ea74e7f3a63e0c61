package ci

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nixctl/nixctl/internal/fsx"
	"go.yaml.in/yaml/v3"
)

func parseWorkflow(t *testing.T, platform string) (Platform, map[string]any) {
	t.Helper()
	p, ok := LookupPlatform(platform)
	if !ok {
		t.Fatalf("no platform %s", platform)
	}
	var doc map[string]any
	if err := yaml.Unmarshal([]byte(p.Content), &doc); err != nil {
		t.Fatalf("%s workflow is not YAML: %v\n%s", platform, err, p.Content)
	}
	return p, doc
}

func steps(t *testing.T, doc map[string]any) []map[string]any {
	t.Helper()
	job := doc["jobs"].(map[string]any)["nixctl-ci"].(map[string]any)
	var out []map[string]any
	for _, s := range job["steps"].([]any) {
		out = append(out, s.(map[string]any))
	}
	return out
}

func findStep(steps []map[string]any, key, prefix string) map[string]any {
	for _, s := range steps {
		if v, ok := s[key].(string); ok && strings.HasPrefix(v, prefix) {
			return s
		}
	}
	return nil
}

func TestGitHubWorkflow(t *testing.T) {
	t.Parallel()
	p, doc := parseWorkflow(t, "github")
	if p.Path != ".github/workflows/nixctl.yml" {
		t.Errorf("path %s", p.Path)
	}
	if perms := doc["permissions"].(map[string]any); perms["checks"] != "write" {
		t.Errorf("publishing a check needs checks: write, got %v", perms)
	}
	st := steps(t, doc)
	for _, uses := range []string{"actions/checkout@", "nixbuild/nix-quick-install-action@", "nix-community/cache-nix-action@", "mikepenz/action-junit-report@", "actions/upload-artifact@"} {
		if findStep(st, "uses", uses) == nil {
			t.Errorf("no step uses %s", uses)
		}
	}
	run := findStep(st, "run", "nix run")
	if run == nil || run["run"] != RunLine {
		t.Fatalf("nixctl ci step = %v", run)
	}
	if !strings.Contains(RunLine, "--inputs-from . nixctl -- ci --junit "+JUnitFile) {
		t.Errorf("RunLine = %s", RunLine)
	}
	report := findStep(st, "uses", "mikepenz/action-junit-report@")
	if report["if"] != "${{ !cancelled() }}" || report["with"].(map[string]any)["report_paths"] != JUnitFile {
		t.Errorf("the report must be published even when nixctl ci fails: %v", report)
	}
}

func TestGitLabWorkflow(t *testing.T) {
	t.Parallel()
	p, doc := parseWorkflow(t, "gitlab")
	if p.Path != ".gitlab-ci.yml" {
		t.Errorf("path %s", p.Path)
	}
	job := doc["nixctl-ci"].(map[string]any)
	if !strings.HasPrefix(job["image"].(string), "nixos/nix:") {
		t.Errorf("image %v", job["image"])
	}
	if script := job["script"].([]any); len(script) != 1 || script[0] != RunLine {
		t.Errorf("script %v", script)
	}
	art := job["artifacts"].(map[string]any)
	if art["when"] != "always" || art["reports"].(map[string]any)["junit"] != JUnitFile {
		t.Errorf("artifacts %v", art)
	}
	cache := job["cache"].(map[string]any)
	if paths := cache["paths"].([]any); len(paths) != 1 || paths[0] != ".nix-cache/" {
		t.Errorf("cache %v", cache)
	}
	if !strings.Contains(job["variables"].(map[string]any)["NIX_CONFIG"].(string), "file://$CI_PROJECT_DIR/.nix-cache") {
		t.Errorf("the cache is not used as a substituter")
	}
}

func TestForgejoWorkflow(t *testing.T) {
	t.Parallel()
	p, doc := parseWorkflow(t, "forgejo")
	if p.Path != ".forgejo/workflows/nixctl.yml" {
		t.Errorf("path %s", p.Path)
	}
	st := steps(t, doc)
	if run := findStep(st, "run", "nix run"); run == nil || run["run"] != RunLine {
		t.Errorf("nixctl ci step = %v", run)
	}
	for _, uses := range []string{"https://code.forgejo.org/actions/checkout@", "https://code.forgejo.org/actions/cache@", "https://code.forgejo.org/actions/upload-artifact@"} {
		if findStep(st, "uses", uses) == nil {
			t.Errorf("no step uses %s", uses)
		}
	}
	if got := strings.Join(Platforms(), ","); got != "forgejo,github,gitlab" {
		t.Errorf("Platforms() = %s", got)
	}
}

func TestWriteWorkflowRefusesToOverwrite(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), ".github", "workflows", "nixctl.yml")
	if err := WriteWorkflow(fsx.Disk{}, path, "one\n", false); err != nil {
		t.Fatal(err)
	}
	if err := WriteWorkflow(fsx.Disk{}, path, "two\n", false); !errors.Is(err, ErrExists) {
		t.Fatalf("second write: %v, want ErrExists", err)
	}
	if data, _ := os.ReadFile(path); string(data) != "one\n" {
		t.Fatalf("file changed to %q", data)
	}
	if err := WriteWorkflow(fsx.Disk{}, path, "two\n", true); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(path); string(data) != "two\n" {
		t.Fatalf("--force did not replace: %q", data)
	}
	dir := t.TempDir()
	if err := WriteWorkflow(fsx.Disk{}, dir, "x", true); err == nil {
		t.Error("replaced a directory")
	}
}

func TestPinsNixctl(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if PinsNixctl(dir) {
		t.Error("no flake.lock: not pinned")
	}
	lock := `{"nodes":{"nixctl":{"locked":{}},"root":{"inputs":{"nixctl":"nixctl","nixpkgs":"nixpkgs"}}},"root":"root","version":7}`
	if err := os.WriteFile(filepath.Join(dir, "flake.lock"), []byte(lock), 0o644); err != nil {
		t.Fatal(err)
	}
	if !PinsNixctl(dir) {
		t.Error("flake.lock with a nixctl input: pinned")
	}
}
