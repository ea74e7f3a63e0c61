package cli

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/nixctl/nixctl/internal/testutil"
)

// Every sops-nix snippet 'secrets add' prints is pasted, as printed, into
// the file its first line names, and evaluated by real nix: its sopsFile
// must be the secret that was written.
func TestSecretsAddSnippetsEvaluateWhereTheySay(t *testing.T) {
	testutil.Require(t, "nix")
	f := newSecretsFleet(t)
	f.mustRun("", "secrets", "init")
	src := t.TempDir()
	testutil.WriteFile(t, filepath.Join(src, "kube"), []byte(kubeconfig), 0o600)
	testutil.WriteFile(t, filepath.Join(src, "db.env"), []byte("PASSWORD=hunter2\n"), 0o600)
	testutil.WriteFile(t, filepath.Join(src, "app.json"), []byte(`{"token":"t"}`), 0o600)

	for _, tc := range []struct {
		args   []string
		key    string
		secret string
	}{
		{[]string{"kubeconfig", "--from", filepath.Join(src, "kube")}, "kubeconfig/nixos-mini", "secrets/kubeconfig/nixos-mini.yml"},
		{[]string{"app", "db", "--from", filepath.Join(src, "db.env")}, "app/db", "secrets/app/db.env"},
		{[]string{"grafana", "admin", "--from", filepath.Join(src, "app.json")}, "grafana/admin", "secrets/grafana/admin.json"},
	} {
		out := f.mustRun("", append([]string{"secrets", "add"}, tc.args...)...)
		first, _, _ := strings.Cut(out, "\n")
		file, _, ok := strings.Cut(strings.TrimPrefix(first, "# "), " (")
		if !ok || !strings.HasPrefix(first, "# ") {
			t.Fatalf("the snippet does not start by naming its file:\n%s", out)
		}
		module := filepath.Join(f.dir, filepath.FromSlash(file))
		if err := os.MkdirAll(filepath.Dir(module), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(module, []byte("{ config, ... }:\n{\n"+out+"}\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		expr := `let m = import ` + module + ` { config.home.homeDirectory = "/home/gabriel"; }; s = m.sops.secrets.` + strconv.Quote(tc.key) + `;
in { exists = builtins.pathExists s.sopsFile; path = toString s.sopsFile; }`
		res, err := exec.Command("nix", "eval", "--extra-experimental-features", "nix-command", "--impure", "--json", "--expr", expr).CombinedOutput()
		if err != nil {
			t.Fatalf("%s: nix eval: %v\n%s\nsnippet:\n%s", tc.key, err, res, out)
		}
		var got struct {
			Exists bool   `json:"exists"`
			Path   string `json:"path"`
		}
		if err := json.Unmarshal(res, &got); err != nil {
			t.Fatalf("%s: %v: %s", tc.key, err, res)
		}
		if want := filepath.Join(f.dir, filepath.FromSlash(tc.secret)); !got.Exists || got.Path != want {
			t.Errorf("%s: from %s the snippet's sopsFile is %s (exists: %v), want %s\n%s", tc.key, file, got.Path, got.Exists, want, out)
		}
	}
}
