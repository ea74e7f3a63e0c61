package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nixctl/nixctl/internal/execx"
	"github.com/nixctl/nixctl/internal/exitcode"
	"github.com/nixctl/nixctl/internal/testutil"
)

// Hostile inventories are refused before anything runs: each value that
// could be read by a shell or as an option is named in the error, and no
// command is started.
func TestHostileInventoriesAreRefusedBeforeAnythingRuns(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"space in name":      "hosts:\n  - {name: 'web 1', address: 10.0.0.1}\n",
		"semicolon":          "hosts:\n  - {name: web, address: '10.0.0.1;reboot'}\n",
		"command subst":      "hosts:\n  - {name: '$(reboot)', address: 10.0.0.1}\n",
		"backticks":          "hosts:\n  - {name: web, address: '`reboot`'}\n",
		"newline":            "hosts:\n  - {name: \"web\\nreboot\", address: 10.0.0.1}\n",
		"leading dash":       "hosts:\n  - {name: web, address: '-oProxyCommand=reboot'}\n",
		"unicode look-alike": "hosts:\n  - {name: wеb, address: 10.0.0.1}\n",
		"ssh option":         "hosts:\n  - {name: web, address: h, sshOptions: ['-o ProxyCommand=reboot']}\n",
		"user":               "hosts:\n  - {name: web, address: h, user: 'root -oX'}\n",
		"attr":               "hosts:\n  - {name: web, address: h, attr: 'x\" --impure \"'}\n",
		"deep nesting":       "hosts: " + strings.Repeat("[", 5000) + strings.Repeat("]", 5000) + "\n",
	}
	for name, yaml := range cases {
		t.Run(name, func(t *testing.T) {
			dir := testutil.WriteTree(t, map[string]string{"nixctl.yaml": yaml})
			rec := &execx.Recorder{Paths: map[string]string{"nix": "/bin/nix"}}
			r := runIn(t, dir, rec, nil, "check", "--all")
			if r.code != exitcode.Inventory {
				t.Fatalf("exit %d, want %d: %s", r.code, exitcode.Inventory, r.stderr)
			}
			if !strings.Contains(r.stderr, "nixctl: error: invalid inventory") {
				t.Errorf("stderr: %s", r.stderr)
			}
			if len(rec.Calls()) != 0 {
				t.Errorf("commands ran for a hostile inventory: %v", rec.Argvs())
			}
		})
	}
}

func TestHugeInventoryIsRefusedUnread(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	f, err := os.Create(filepath.Join(dir, "nixctl.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	line := "  - {name: host, address: 10.0.0.1}\n"
	_, _ = f.WriteString("hosts:\n")
	for written := 0; written < 10<<20; written += len(line) {
		_, _ = f.WriteString(line)
	}
	f.Close()
	r := runIn(t, dir, &execx.Recorder{}, nil, "inventory", "list")
	if r.code != exitcode.Inventory || !strings.Contains(r.stderr, "more than the 1048576 nixctl reads") {
		t.Errorf("exit %d: %s", r.code, r.stderr)
	}
}
