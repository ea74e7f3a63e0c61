package nix

import (
	"strings"
	"testing"
)

func TestSopsDeclsExprQuotesNames(t *testing.T) {
	expr := SopsDeclsExpr(`/tmp/a "b" ${x}`, []string{`h"1`}, []string{"gabriel@laptop"})
	for _, want := range []string{`builtins.getFlake "/tmp/a \"b\" \${x}"`, `[ "h\"1" ]`, `[ "gabriel@laptop" ]`} {
		if !strings.Contains(expr, want) {
			t.Errorf("missing %s in:\n%s", want, expr)
		}
	}
	argv := EvalSopsDecls("/f", nil, nil)
	if argv[0] != "nix" || argv[1] != "eval" || !strings.Contains(strings.Join(argv, " "), "--json --impure --expr") {
		t.Errorf("argv %q", argv)
	}
}

func TestParseSopsDecls(t *testing.T) {
	out := `{"hosts":{"a":{"keyFile":null,"secrets":{"x":{"file":{"path":"secrets/a.yaml","repo":true},"format":"yaml","key":"db/password"},"bad":{"error":true}},"sshKeyPaths":["/etc/ssh/ssh_host_ed25519_key"]},"b":{"error":true},"c":{"keyFile":"/k","secrets":{"error":true},"sshKeyPaths":[]}},"profiles":{"p":{"keyFile":null,"secrets":{},"sshKeyPaths":[]}}}`
	res, err := ParseSopsDecls([]byte(out))
	if err != nil {
		t.Fatal(err)
	}
	a := res.Hosts["a"]
	if x := a.Secrets["x"]; x.File == nil || x.File.Path != "secrets/a.yaml" || !x.File.Repo || x.Key != "db/password" || x.Format != "yaml" {
		t.Errorf("x = %+v", x)
	}
	if !a.Secrets["bad"].Failed || len(a.SSHKeyPaths) != 1 {
		t.Errorf("a = %+v", a)
	}
	if !res.Hosts["b"].Failed || !res.Hosts["c"].SecretsErr || res.Hosts["c"].KeyFile != "/k" {
		t.Errorf("b, c = %+v %+v", res.Hosts["b"], res.Hosts["c"])
	}
	if p, ok := res.Profiles["p"]; !ok || len(p.Secrets) != 0 || p.Failed {
		t.Errorf("p = %+v", p)
	}
	if _, err := ParseSopsDecls([]byte("not json")); err == nil {
		t.Error("garbage accepted")
	}
}
