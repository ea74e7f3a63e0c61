package secrets

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nixctl/nixctl/internal/testutil"
)

// A .sops.yaml written by hand, with comments, two rules and the compact
// sequence style sops-nix's README uses.
const handWritten = `# Who reads what.
keys:
  # people
  - &gabriel age1zrryth9r2ws0hkd0tf2cqvstyrmh3edaf2a7dlz3dp2d02fjw3js2p9xq2 # laptop
  # machines
  - &gateway age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p
creation_rules:
  - path_regex: ^secrets/kubeconfig/   # kubeconfigs
    key_groups:
    - age:
      - *gabriel
  - path_regex: ^secrets/
    key_groups:
      - age:
          - *gabriel
          - *gateway

stores:
  yaml:
    indent: 4
`

const nodeRecipient = "age1cy0su9fwf3gf9mw868g5yut09p6nytfmmnktexz2ya5uqg9vl9sss4euqm"

func ageKey(v string) Key { return Key{Type: "age", Value: v} }

func TestSopsYAMLEditKeepsCommentsAndLayout(t *testing.T) {
	t.Parallel()
	c, err := ParseSopsConfig("/r/.sops.yaml", []byte(handWritten))
	if err != nil {
		t.Fatal(err)
	}
	e, err := c.AddRecipient(EveryRule(), NewRecipient{Name: "nixos-mini", Key: ageKey(nodeRecipient), Group: -1})
	if err != nil || !e.Changed() || len(e.Rules) != 2 {
		t.Fatal(e, err)
	}
	want := strings.NewReplacer(
		"  - &gateway age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p\n",
		"  - &gateway age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p\n  - &nixos-mini "+nodeRecipient+"\n",
		"      - *gabriel\n  - path_regex", "      - *gabriel\n      - *nixos-mini\n  - path_regex",
		"          - *gateway\n", "          - *gateway\n          - *nixos-mini\n",
	).Replace(handWritten)
	if string(e.Data()) != want {
		t.Errorf("after add:\n%s\nwant:\n%s", e.Data(), want)
	}
	c = e.After
	if again, err := c.AddRecipient(EveryRule(), NewRecipient{Name: "nixos-mini", Key: ageKey(nodeRecipient), Group: -1}); err != nil || again.Changed() {
		t.Errorf("adding twice changed the file: %v", err)
	}
	if _, err := c.AddRecipient(EveryRule(), NewRecipient{Name: "gateway", Key: ageKey(nodeRecipient[:len(nodeRecipient)-1] + "x"), Group: -1}); err == nil {
		t.Error("an anchor name was reused for another key")
	}
	if c.Name(nodeRecipient) != "nixos-mini" {
		t.Errorf("Name = %s", c.Name(nodeRecipient))
	}
	r, err := c.RemoveRecipient(EveryRule(), ageKey(nodeRecipient))
	if err != nil {
		t.Fatal(err)
	}
	if string(r.Data()) != handWritten {
		t.Errorf("add then remove is not the original:\n%s", r.Data())
	}

	// Only the rule named by --rule.
	c, _ = ParseSopsConfig("/r/.sops.yaml", []byte(handWritten))
	e, err = c.AddRecipient(RuleWithRegex("^secrets/"), NewRecipient{Name: "nixos-mini", Key: ageKey(nodeRecipient), Group: -1})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(string(e.Data()), "*nixos-mini") != 1 || !slices.Equal(e.Rules, []int{1}) {
		t.Errorf("--rule added to other rules:\n%s", e.Data())
	}
	if _, err := c.AddRecipient(RuleWithRegex("^nope/"), NewRecipient{Name: "x", Key: ageKey(nodeRecipient), Group: -1}); err == nil {
		t.Error("an unknown --rule was accepted")
	}
}

// sops reads what nixctl wrote: the rule for a path lists the new key.
func TestSopsYAMLRuleForAfterEdit(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := filepath.Join(dir, ".sops.yaml")
	c, _ := ParseSopsConfig(p, []byte(handWritten))
	c = addKey(t, c, "nixos-mini", nodeRecipient)
	testutil.WriteFile(t, p, c.Data, 0o644)
	c, err := LoadSopsConfig(p)
	if err != nil {
		t.Fatal(err)
	}
	r, err := c.RuleFor(filepath.Join(dir, "secrets", "kubeconfig", "x.yml"))
	if err != nil || len(r.Recipients) != 2 || r.Recipients[1] != nodeRecipient {
		t.Errorf("kubeconfig rule: %+v %v", r, err)
	}
	r, err = c.RuleFor(filepath.Join(dir, "secrets", "app.env"))
	if err != nil || len(r.Recipients) != 3 {
		t.Errorf("secrets rule: %+v %v", r, err)
	}
	if _, err := c.RuleFor(filepath.Join(dir, "elsewhere", "x.yml")); err == nil {
		t.Error("a path outside every rule got recipients")
	}
}

// A comma list gets the value itself (an alias cannot go in a string), and
// loses it again; a rule left without recipients is reported.
func TestSopsYAMLCommaList(t *testing.T) {
	t.Parallel()
	const flow = "creation_rules:\n  - path_regex: ^secrets/\n    age: age1zrryth9r2ws0hkd0tf2cqvstyrmh3edaf2a7dlz3dp2d02fjw3js2p9xq2\n"
	c, _ := ParseSopsConfig("/r/.sops.yaml", []byte(flow))
	c = addKey(t, c, "nixos-mini", nodeRecipient)
	if !strings.Contains(string(c.Data), "&nixos-mini "+nodeRecipient) || !strings.Contains(string(c.Data), "age1zrryth9r2ws0hkd0tf2cqvstyrmh3edaf2a7dlz3dp2d02fjw3js2p9xq2,"+nodeRecipient) {
		t.Errorf("comma list:\n%s", c.Data)
	}
	c = removeKey(t, c, "nixos-mini")
	if string(c.Data) != "creation_rules:\n  - path_regex: ^secrets/\n    age: age1zrryth9r2ws0hkd0tf2cqvstyrmh3edaf2a7dlz3dp2d02fjw3js2p9xq2\n" {
		t.Errorf("not removed cleanly:\n%s", c.Data)
	}
	const only = "keys:\n  - &a age1zrryth9r2ws0hkd0tf2cqvstyrmh3edaf2a7dlz3dp2d02fjw3js2p9xq2\ncreation_rules:\n  - key_groups:\n      - age:\n          - *a\n"
	c, _ = ParseSopsConfig("/r/.sops.yaml", []byte(only))
	e, err := c.RemoveRecipient(EveryRule(), ageKey("age1zrryth9r2ws0hkd0tf2cqvstyrmh3edaf2a7dlz3dp2d02fjw3js2p9xq2"))
	if err != nil || len(e.Empty()) != 1 {
		t.Errorf("a rule left without recipients is not reported: %v\n%s", err, e.Data())
	}
}

func TestResolveRefusesEscapes(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	r := Repo{Root: root, Dir: filepath.Join(root, "secrets"), Config: filepath.Join(root, ".sops.yaml")}
	testutil.MkdirAll(t, r.Dir, 0o755)
	testutil.Symlink(t, t.TempDir(), filepath.Join(r.Dir, "out"))
	for _, p := range []string{"", "../x", "a/../../x", "/etc/passwd", ".env", "a/.git/x", "a\x00b", "a\nb", "out/x.yml", "a//b", "./a"} {
		if _, err := r.Resolve(p); err == nil {
			t.Errorf("Resolve(%q) accepted", p)
		}
	}
	for p, want := range map[string]string{"kubeconfig/x.yml": "kubeconfig/x.yml", "secrets/kubeconfig/x.yml": "kubeconfig/x.yml"} {
		got, err := r.Resolve(p)
		if err != nil || got != filepath.Join(r.Dir, want) {
			t.Errorf("Resolve(%q) = %s, %v", p, got, err)
		}
	}
}

// A plugin recipient would make age run age-plugin-NAME: refused.
func TestRuleForRefusesPluginRecipients(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := filepath.Join(dir, ".sops.yaml")
	testutil.WriteFile(t, p, []byte("creation_rules:\n  - age: age1yubikey1qwt50d05nh5vutpdzmlg5wn80xq5negm4uj9ghv0snvdd3yysf5yw3rhl3t\n"), 0o644)
	c, err := LoadSopsConfig(p)
	if err != nil {
		t.Fatal(err)
	}
	r, err := c.RuleFor(filepath.Join(dir, "x.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := r.AgeOnly(filepath.Join(dir, "x.yml")); err == nil || !strings.Contains(err.Error(), "plugin") {
		t.Errorf("plugin recipient: %v", err)
	}
	if isPluginRecipient(nodeRecipient) {
		t.Error("an X25519 recipient taken for a plugin one")
	}
}

// Found by FuzzSopsConfigEdit: a key group that is not a mapping (a typo
// made it a plain scalar) made add-host loop forever; sops refuses such a
// file and so does nixctl, when reading it.
func TestSopsYAMLMalformedKeyGroupIsAnError(t *testing.T) {
	t.Parallel()
	const bad = "creation_rules:\n  - path_regex: ^secrets/\n    key_groups:\n    - age\n          - *gabriel\n"
	_, err := ParseSopsConfig("/r/.sops.yaml", []byte("keys:\n  - &gabriel age1zrryth9r2ws0hkd0tf2cqvstyrmh3edaf2a7dlz3dp2d02fjw3js2p9xq2\n"+bad))
	if err == nil || !strings.Contains(err.Error(), "not a mapping") {
		t.Errorf("parse: %v", err)
	}
}
