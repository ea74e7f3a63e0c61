package nix

import (
	"os"
	"path/filepath"
	"testing"
)

func TestParseErrorsInternalJSON(t *testing.T) {
	t.Parallel()
	repo := t.TempDir()
	if err := os.MkdirAll(filepath.Join(repo, "hosts"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(repo, "lib.nix"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, stderr string
		want         Error
	}{
		{
			"syntax error with position",
			`@nix {"action":"start","id":1,"level":4,"text":"copying","type":0}
@nix {"action":"msg","column":1,"file":"/nix/store/vjd318fihnjgjws7rmwh0vaiyv4g13dp-source/hosts/gateway.nix","level":0,"line":3,"msg":"\u001b[31;1merror:\u001b[0m syntax error, unexpected '}', expecting ';'\n\n       at \u001b[35;1m/nix/store/vjd318fihnjgjws7rmwh0vaiyv4g13dp-source/hosts/gateway.nix:3:1\u001b[0m:\n\n            2|   hostName = \"gateway\"\n            3| }\n             | ^","raw_msg":"syntax error, unexpected '}', expecting ';'"}`,
			Error{File: "hosts/gateway.nix", Line: 3, Column: 1, Message: "syntax error, unexpected '}', expecting ';'"},
		},
		{
			"throw located by the trace frame in the repository",
			`@nix {"action":"msg","column":null,"file":null,"level":0,"line":null,"msg":"\u001b[31;1merror:\u001b[0m boom","raw_msg":"networking.hostName must be a string, got int","trace":[{"column":9,"file":"/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-source/lib/modules.nix","line":500,"raw_msg":"while evaluating"},{"column":24,"file":"/nix/store/vjd318fihnjgjws7rmwh0vaiyv4g13dp-source/lib.nix","line":5,"raw_msg":"while evaluating 'assertString'"}]}`,
			Error{File: "lib.nix", Line: 5, Column: 24, Message: "networking.hostName must be a string, got int"},
		},
		{
			"warnings and ignored errors are not errors",
			`@nix {"action":"msg","level":1,"msg":"warning: unknown flake output 'homeConfigurations'"}
@nix {"action":"msg","level":0,"msg":"\u001b[31;1merror (ignored):\u001b[0m error: SQLite database '/h/.cache/nix/eval-cache-v2/x.sqlite' is busy"}
@nix {"action":"msg","level":0,"msg":"error: it broke","raw_msg":"it broke"}`,
			Error{Message: "it broke"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			errs := ParseErrors([]byte(c.stderr), repo)
			if len(errs) != 1 {
				t.Fatalf("want 1 error, got %d: %+v", len(errs), errs)
			}
			if errs[0] != c.want {
				t.Errorf("got  %+v\nwant %+v", errs[0], c.want)
			}
		})
	}
}

func TestParseErrorsPlainText(t *testing.T) {
	t.Parallel()
	stderr := "warning: Git tree '/r' is dirty\n\x1b[31;1merror:\x1b[0m undefined variable 'pkgs'\n\n       at /nix/store/vjd318fihnjgjws7rmwh0vaiyv4g13dp-source/flake.nix:12:20:\n\n           11|   outputs = { self }: {\n           12|     packages = pkgs.hello;\n             |                    ^\n(use '--show-trace' to show detailed location information)\n"
	errs := ParseErrors([]byte(stderr), "")
	if len(errs) != 1 {
		t.Fatalf("got %+v", errs)
	}
	want := Error{File: "flake.nix", Line: 12, Column: 20, Message: "undefined variable 'pkgs'"}
	if errs[0] != want {
		t.Errorf("got %+v, want %+v", errs[0], want)
	}
	if errs[0].String() != "flake.nix:12:20: undefined variable 'pkgs'" {
		t.Errorf("String() = %q", errs[0].String())
	}
}

func TestStripANSIAndMissingAttr(t *testing.T) {
	t.Parallel()
	if got := StripANSI("\x1b[31;1mred\x1b[0m"); got != "red" {
		t.Errorf("StripANSI = %q", got)
	}
	if !IsMissingAttr([]byte("error: flake 'path:/r' does not provide attribute 'packages.x86_64-linux.homeConfigurations'")) {
		t.Error("missing attribute not recognised")
	}
	if IsMissingAttr([]byte("error: syntax error")) {
		t.Error("syntax error taken for a missing attribute")
	}
}

func FuzzParseErrors(f *testing.F) {
	f.Add([]byte(`@nix {"action":"msg","level":0,"msg":"error: x","file":"/nix/store/vjd318fihnjgjws7rmwh0vaiyv4g13dp-source/a.nix","line":1,"column":2}`))
	f.Add([]byte("error: undefined variable 'x'\n       at /a/b.nix:1:2:\n"))
	f.Add([]byte("@nix {not json"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, e := range ParseErrors(data, "/repo") {
			_ = e.String()
		}
	})
}
