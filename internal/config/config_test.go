package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"github.com/nixctl/nixctl/internal/fault"
)

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestFindInventory(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	write(t, filepath.Join(root, "fleet", "nixctl.yaml"), "hosts: []\n")
	write(t, filepath.Join(root, "fleet", "flake.nix"), "{}")
	write(t, filepath.Join(root, "fleet", "hosts", "a", "x.nix"), "{}")
	write(t, filepath.Join(root, "bare", "flake.nix"), "{}")

	cases := []struct {
		name, cwd string
		cfg       Config
		want      string // suffix of the path, or "error: …"
	}{
		{"walk up", "fleet/hosts/a", Config{}, "fleet/nixctl.yaml"},
		{"flake dir", "bare", Config{Flake: filepath.Join(root, "fleet")}, "fleet/nixctl.yaml"},
		{"relative flake", ".", Config{Flake: "fleet"}, "fleet/nixctl.yaml"},
		{"path: flake", ".", Config{Flake: "path:" + filepath.Join(root, "fleet")}, "fleet/nixctl.yaml"},
		{"config wins", "bare", Config{ConfigFile: "../fleet/nixctl.yaml", Flake: "bare"}, "fleet/nixctl.yaml"},
		{"flake.nix without inventory", "bare", Config{}, "error: has flake.nix but no nixctl.yaml"},
		{"missing config", ".", Config{ConfigFile: "nope.yaml"}, "error: inventory nope.yaml"},
		{"remote flake", ".", Config{Flake: "github:me/fleet"}, "error: no nixctl.yaml found for remote flake"},
		{"missing flake dir", ".", Config{Flake: "nowhere"}, "error: flake directory"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := c.cfg.FindInventory(filepath.Join(root, c.cwd))
			if want, isErr := strings.CutPrefix(c.want, "error: "); isErr {
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Fatalf("want error %q, got %v (%s)", want, err, got)
				}
				if fault.KindOf(err) != fault.Inventory || fault.HintOf(err) == "" {
					t.Errorf("want an inventory error with a hint, got %v %q", fault.KindOf(err), fault.HintOf(err))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasSuffix(got, c.want) {
				t.Errorf("got %s, want …%s", got, c.want)
			}
		})
	}
}

func TestLoadLayersFlagsOverEnvironment(t *testing.T) {
	t.Parallel()
	settings := map[string]string{"NIXCTL_FLAKE": "/from/env", "NIXCTL_DRY_RUN": "true", "NIXCTL_YES": "", "NIXCTL_CONFIG": "inv.yaml"}
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	AddFlags(fs)
	if err := fs.Parse([]string{"--flake", "/from/flag", "-y"}); err != nil {
		t.Fatal(err)
	}
	c, err := Load(fs, settings)
	if err != nil {
		t.Fatal(err)
	}
	if c.Flake != "/from/flag" || !c.DryRun || !c.Yes || c.JSON || c.ConfigFile != "inv.yaml" {
		t.Errorf("config = %+v", c)
	}
}

func TestLoadReadsOnlyTheSettingsItIsGiven(t *testing.T) {
	t.Parallel()
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	AddFlags(fs)
	// An empty variable is unset: the flag's default stands.
	c, err := Load(fs, map[string]string{"NIXCTL_JSON": "", "NIXCTL_QUIET": "1"})
	if err != nil {
		t.Fatal(err)
	}
	if c.JSON || !c.Quiet || c.Flake != "" {
		t.Errorf("config = %+v", c)
	}
	if c, err := Load(fs, nil); err != nil || *c != (Config{}) {
		t.Errorf("no settings: %+v, %v", c, err)
	}
}

func TestLoadRefusesANonBooleanSetting(t *testing.T) {
	t.Parallel()
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	AddFlags(fs)
	_, err := Load(fs, map[string]string{"NIXCTL_YES": "maybe"})
	if err == nil || err.Error() != `NIXCTL_YES="maybe" is not a boolean` || fault.KindOf(err) != fault.Usage || fault.HintOf(err) == "" {
		t.Errorf("err = %v (kind %v, hint %q)", err, fault.KindOf(err), fault.HintOf(err))
	}
	fs = pflag.NewFlagSet("t", pflag.ContinueOnError)
	AddFlags(fs)
	if err := fs.Parse([]string{"-v"}); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(fs, map[string]string{"NIXCTL_QUIET": "true"}); err == nil || !strings.Contains(err.Error(), "--verbose and --quiet contradict") {
		t.Errorf("-v with NIXCTL_QUIET=true: %v", err)
	}
}
