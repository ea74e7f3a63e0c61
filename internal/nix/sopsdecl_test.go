package nix

import "testing"

func TestParseSopsDecls(t *testing.T) {
	t.Parallel()
	a, err := ParseSopsDecls([]byte(`{"keyFile":null,"secrets":{"x":{"file":{"path":"secrets/a.yaml","repo":true},"format":"yaml","key":"db/password"},"bad":{"error":true}},"sshKeyPaths":["/etc/ssh/ssh_host_ed25519_key"]}`))
	if err != nil {
		t.Fatal(err)
	}
	if x := a.Secrets["x"]; x.File == nil || x.File.Path != "secrets/a.yaml" || !x.File.Repo || x.Key != "db/password" || x.Format != "yaml" {
		t.Errorf("x = %+v", x)
	}
	if !a.Secrets["bad"].Failed || len(a.SSHKeyPaths) != 1 {
		t.Errorf("a = %+v", a)
	}
	c, err := ParseSopsDecls([]byte(`{"keyFile":"/k","secrets":{"error":true},"sshKeyPaths":[]}`))
	if err != nil || !c.SecretsErr || c.KeyFile != "/k" {
		t.Errorf("c = %+v %v", c, err)
	}
	p, err := ParseSopsDecls([]byte(`{"keyFile":null,"secrets":{},"sshKeyPaths":[]}`))
	if err != nil || len(p.Secrets) != 0 || p.Failed {
		t.Errorf("p = %+v %v", p, err)
	}
	if _, err := ParseSopsDecls([]byte("not json")); err == nil {
		t.Error("garbage accepted")
	}
}
