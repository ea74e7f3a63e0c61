package inventory

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestSecretGlobsAndRecipient(t *testing.T) {
	t.Parallel()
	f, err := Parse("/repo/nixctl.yaml", []byte(`
hosts:
  - name: nixos-mini
    address: 192.168.1.20
    secrets: ["secrets/server/**", "secrets/k0s.yaml"]
  - name: other
    address: 192.168.1.21
profiles:
  - name: laptop
    recipient: laptop
  - name: desktop
    recipient: desktop
    secrets: ["secrets/kubeconfig/*.yml"]
`))
	if err != nil {
		t.Fatal(err)
	}
	mini, _ := f.Host("nixos-mini")
	if g, named := f.SecretGlobs(mini); !named || !slices.Equal(g, []string{"secrets/server/**", "secrets/k0s.yaml"}) {
		t.Errorf("nixos-mini globs %v %v", g, named)
	}
	other, _ := f.Host("other")
	if g, named := f.SecretGlobs(other); named || !slices.Contains(g, "secrets/server/**") || !slices.Contains(g, "secrets/hosts/other/**") || slices.Contains(g, "secrets/kubeconfig/**") {
		t.Errorf("default host globs %v", g)
	}
	laptop, _ := f.Profile("laptop")
	if g, _ := f.ProfileSecretGlobs(laptop); laptop.Recipient != "laptop" || !slices.Contains(g, "secrets/kubeconfig/**") {
		t.Errorf("laptop %+v %v", laptop, g)
	}
	for glob, path := range map[string]string{
		"secrets/server/**":           "secrets/server/a/b.yaml",
		"secrets/kubeconfig/*.yml":    "secrets/kubeconfig/nixos-mini.yml",
		"secrets/{home,work}.yaml":    "secrets/work.yaml",
		"secrets/hosts/nixos-mini/**": "secrets/hosts/nixos-mini/x.env",
	} {
		if !MatchSecretGlob(glob, path) {
			t.Errorf("%s does not match %s", glob, path)
		}
	}
	if MatchSecretGlob("secrets/kubeconfig/*.yml", "secrets/kubeconfig/a/b.yml") || MatchSecretGlob("secrets/server/**", "secrets/kubeconfig/x.yml") {
		t.Error("a glob matches too much")
	}
}

func TestSecretGlobsValidated(t *testing.T) {
	t.Parallel()
	_, err := Parse("nixctl.yaml", []byte(`hosts:
  - name: a
    address: 192.0.2.1
    secrets:
      - /etc/secrets/**
      - ../outside/*.yaml
      - "secrets/[a-"
      - ""
profiles:
  - name: p
    recipient: "bad name"
    secrets: secrets/x.yaml
`))
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("accepted: %v", err)
	}
	msg := err.Error()
	for _, want := range []string{
		"nixctl.yaml:5: hosts[0].secrets[0]",
		"nixctl.yaml:6: hosts[0].secrets[1]",
		"nixctl.yaml:7: hosts[0].secrets[2]",
		"nixctl.yaml:8: hosts[0].secrets[3]",
		"profiles[0].recipient",
		"profiles[0].secrets: must be a list",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("missing %q in:\n%s", want, msg)
		}
	}
}
