package nix

import (
	"reflect"
	"strings"
	"testing"
)

// Recorded from nix 2.8: nix build --keep-going --log-format internal-json
// of an item whose dependency fails.
const buildDepFailureLog = `@nix {"action":"start","fields":["/nix/store/szbviihh0ia6q6j9q8xys40zm5xqwl3z-failing-dep.drv","",1,1],"id":5,"level":3,"text":"building '/nix/store/szbviihh0ia6q6j9q8xys40zm5xqwl3z-failing-dep.drv'","type":105}
@nix {"action":"result","fields":["dep-fails"],"id":5,"type":101}
@nix {"action":"result","fields":[0,1,0,1],"id":2,"type":105}
@nix {"action":"msg","column":null,"file":null,"level":0,"line":null,"msg":"\u001b[31;1merror:\u001b[0m builder for '\u001b[35;1m/nix/store/szbviihh0ia6q6j9q8xys40zm5xqwl3z-failing-dep.drv\u001b[0m' failed with exit code 3","raw_msg":"builder for '\u001b[35;1m/nix/store/szbviihh0ia6q6j9q8xys40zm5xqwl3z-failing-dep.drv\u001b[0m' failed with exit code 3"}
@nix {"action":"msg","column":null,"file":null,"level":0,"line":null,"msg":"\u001b[31;1merror:\u001b[0m \u001b[35;1m\u001b[0m\u001b[35;1m1\u001b[0m dependencies of derivation '\u001b[35;1m/nix/store/06ql5cjqlnjq8lv12z1yqgdpd9a73d2r-item-b.drv\u001b[0m' failed to build\u001b[0m","raw_msg":"x"}
`

// The same failure in nix's plain format.
const buildPlainLog = `building '/nix/store/8c9py60igzym03224ya4jp1qwlw4p3w7-item-c.drv'...
error: builder for '/nix/store/8c9py60igzym03224ya4jp1qwlw4p3w7-item-c.drv' failed with exit code 2;
       last 2 log lines:
       > c-log-line
       > c-err
       For full logs, run 'nix log /nix/store/8c9py60igzym03224ya4jp1qwlw4p3w7-item-c.drv'.
`

func TestParseBuildFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in string
		want     []BuildFailure
	}{
		{"internal-json", buildDepFailureLog, []BuildFailure{
			{Drv: "/nix/store/szbviihh0ia6q6j9q8xys40zm5xqwl3z-failing-dep.drv", Message: "builder for '/nix/store/szbviihh0ia6q6j9q8xys40zm5xqwl3z-failing-dep.drv' failed with exit code 3", Log: []string{"dep-fails"}},
			{Drv: "/nix/store/06ql5cjqlnjq8lv12z1yqgdpd9a73d2r-item-b.drv", Message: "1 dependencies of derivation '/nix/store/06ql5cjqlnjq8lv12z1yqgdpd9a73d2r-item-b.drv' failed to build", Dependencies: true},
		}},
		{"plain", buildPlainLog, []BuildFailure{
			{Drv: "/nix/store/8c9py60igzym03224ya4jp1qwlw4p3w7-item-c.drv", Message: "builder for '/nix/store/8c9py60igzym03224ya4jp1qwlw4p3w7-item-c.drv' failed with exit code 2", Log: []string{"c-log-line", "c-err"}},
		}},
		{"no failure", "warning: Git tree is dirty\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ParseBuildFailures([]byte(tt.in))
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %#v\nwant %#v", got, tt.want)
			}
		})
	}
}

func TestParseBuildFailuresKeepsTheLogTail(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString(`@nix {"action":"start","fields":["/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-x.drv","",1,1],"id":7,"type":105}` + "\n")
	for i := range 25 {
		b.WriteString(`@nix {"action":"result","fields":["line ` + string(rune('a'+i)) + `"],"id":7,"type":101}` + "\n")
	}
	b.WriteString(`@nix {"action":"msg","level":0,"msg":"error: builder for '/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-x.drv' failed with exit code 1"}` + "\n")
	got := ParseBuildFailures([]byte(b.String()))
	if len(got) != 1 || len(got[0].Log) != 10 || got[0].Log[9] != "line y" {
		t.Fatalf("got %#v, want the last 10 log lines", got)
	}
}

// Recorded from nix 2.8: nix flake check --keep-going --show-trace
// --log-format internal-json with one check failing to evaluate.
const flakeCheckIgnoredLog = `@nix {"action":"msg","level":1,"msg":"\u001b[35;1mwarning:\u001b[0m unknown flake output 'homeConfigurations'"}
@nix {"action":"msg","level":0,"msg":"error (ignored): \u001b[31;1merror:\u001b[0m check-eval-boom\n\n       … while evaluating the attribute 'foo' of the derivation 'broken-check'\n\n       \u001b[34;1mat \u001b[35;1m/nix/store/rfhpl69sgwy74p94j02pgq1dlqz0q4dc-source/flake.nix:32:9\u001b[0m:\n\n           31|       broken = derivation {\n\n       … while checking the derivation '\u001b[35;1mchecks.x86_64-linux.broken\u001b[0m'\n\n       \u001b[34;1mat \u001b[35;1m/nix/store/rfhpl69sgwy74p94j02pgq1dlqz0q4dc-source/flake.nix:31:7\u001b[0m:\n\n           30|       };"}
@nix {"action":"msg","column":null,"file":null,"level":0,"line":null,"msg":"\u001b[31;1merror:\u001b[0m some errors were encountered during the evaluation","raw_msg":"some errors were encountered during the evaluation"}
`

func TestParseOutputErrors(t *testing.T) {
	t.Parallel()
	got := ParseOutputErrors([]byte(flakeCheckIgnoredLog), "")
	want := []OutputError{{
		Error:  Error{File: "flake.nix", Line: 31, Column: 7, Message: "check-eval-boom"},
		Output: "checks.x86_64-linux.broken",
	}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %#v\nwant %#v", got, want)
	}
	// The eval cache being busy is not an error of the flake.
	busy := `@nix {"action":"msg","level":0,"msg":"error (ignored): error: SQLite database '/root/.cache/nix/eval-cache-v2/x.sqlite' is busy"}` + "\n"
	if got := ParseOutputErrors([]byte(busy+flakeCheckIgnoredLog), ""); len(got) != 1 || got[0].Message != "check-eval-boom" {
		t.Errorf("with a busy eval cache: got %#v", got)
	}
	// Alone, the closing line is the error.
	only := ParseOutputErrors([]byte("error: some errors were encountered during the evaluation\n"), "")
	if len(only) != 1 || only[0].Message != summaryError {
		t.Errorf("closing line alone: got %#v", only)
	}
}

func TestPositionsArgv(t *testing.T) {
	t.Parallel()
	got := strings.Join(EvalPositions("/repo", []string{"checks"}, 2), " ")
	want := "nix eval --json /repo#checks --apply s: builtins.mapAttrs (_: v: builtins.mapAttrs (n: _: builtins.unsafeGetAttrPos n v) v) s --extra-experimental-features nix-command flakes"
	if got != want {
		t.Errorf("EvalPositions =\n%s\nwant\n%s", got, want)
	}
	if got := strings.Join(CheckAttr("x86_64-linux", "my.check"), "."); got != `checks.x86_64-linux."my.check"` {
		t.Errorf("CheckAttr = %s", got)
	}
	if s := System(); !strings.Contains(s, "-") || strings.Contains(s, "amd64") {
		t.Errorf("System() = %q", s)
	}
}
