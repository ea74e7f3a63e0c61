package nix

import (
	"strings"
	"testing"
)

func TestStringLiteralInterpolatesNothing(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"web-1":          `"web-1"`,
		"gabriel@laptop": `"gabriel@laptop"`,
		`a"b`:            `"a\"b"`,
		`${x}`:           `"\${x}"`,
		`back\slash`:     `"back\\slash"`,
		"two\nlines":     `"two\nlines"`,
	} {
		if got := StringLiteral(in); got != want {
			t.Errorf("StringLiteral(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestEvalManyArgvAndExpression(t *testing.T) {
	t.Parallel()
	argv := EvalMany("/fleet", "nixosConfigurations", []EvalItem{
		{Attr: "web-1", Path: []string{"config", "system", "build", "toplevel"}},
		{Attr: "db.main", Path: []string{"config", "system", "build", "toplevel"}},
		{Attr: "web-1", Path: []string{"config", "sops"}},
	}, "--impure")
	want := []string{"nix", "eval", "--json", "--apply"}
	for i, w := range want {
		if argv[i] != w {
			t.Fatalf("argv = %q", argv)
		}
	}
	if argv[5] != "/fleet#nixosConfigurations" || argv[len(argv)-1] != "--impure" || !strings.Contains(strings.Join(argv, " "), "--log-format internal-json") {
		t.Errorf("argv = %q", argv)
	}
	expr := argv[4]
	for _, w := range []string{
		`p0 = [ "config" "system" "build" "toplevel" ];`, `p1 = [ "config" "sops" ];`,
		`(one 0 outs "web-1" p0 null)`, `(one 1 outs "db.main" p0 null)`, `(one 2 outs "web-1" p1 null)`,
	} {
		if !strings.Contains(expr, w) {
			t.Errorf("expression lacks %q:\n%s", w, expr)
		}
	}
}

func TestParseEvalLine(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		line string
		want EvalEvent
		ok   bool
	}{
		{`@nix {"action":"msg","level":0,"msg":"trace: nixctl-eval start 3"}`, EvalEvent{Index: 3, Status: EvalStarted}, true},
		{`@nix {"action":"msg","level":0,"msg":"\u001b[35;1mtrace:\u001b[0m nixctl-eval failed 12"}`, EvalEvent{Index: 12, Status: EvalFailed}, true},
		{`trace: nixctl-eval missing 0`, EvalEvent{Index: 0, Status: EvalMissing}, true},
		{`@nix {"action":"msg","level":0,"msg":"trace: nixctl-eval done 1 {\"d\":\"/nix/store/a.drv\",\"o\":\"/nix/store/a\"}"}`, EvalEvent{Index: 1, Status: EvalDone, DrvPath: "/nix/store/a.drv", OutPath: "/nix/store/a"}, true},
		{`nixctl-eval done 2 {"j":{"x":1}}`, EvalEvent{Index: 2, Status: EvalDone, Value: []byte(`{"x":1}`)}, true},
		{`@nix {"action":"msg","level":0,"msg":"error: nixctl-eval is not defined"}`, EvalEvent{}, false},
		{`trace: nixctl-eval start -1`, EvalEvent{}, false},
		{`trace: nixctl-eval done 1 {broken`, EvalEvent{}, false},
		{`@nix {"action":"start","id":1}`, EvalEvent{}, false},
	} {
		got, ok := ParseEvalLine([]byte(tc.line))
		if ok != tc.ok || got.Index != tc.want.Index || got.Status != tc.want.Status || got.DrvPath != tc.want.DrvPath || got.OutPath != tc.want.OutPath || string(got.Value) != string(tc.want.Value) {
			t.Errorf("ParseEvalLine(%s) = %+v %v, want %+v %v", tc.line, got, ok, tc.want, tc.ok)
		}
	}
}

func TestParseErrorsIgnoresEvalTraces(t *testing.T) {
	t.Parallel()
	stderr := `@nix {"action":"msg","level":0,"msg":"trace: nixctl-eval start 0"}
@nix {"action":"msg","level":0,"file":"/r/flake.nix","line":3,"column":5,"msg":"error: boom","raw_msg":"boom"}
`
	errs := ParseErrors([]byte(stderr), "/r")
	if len(errs) != 1 || errs[0].String() != "flake.nix:3:5: boom" {
		t.Errorf("errors = %+v", errs)
	}
}
