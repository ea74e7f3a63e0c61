package secrets

import (
	"path/filepath"
	"regexp/syntax"
	"slices"
	"strings"
	"testing"

	sopsconfig "github.com/getsops/sops/v3/config"

	"github.com/nixctl/nixctl/internal/testutil"
)

// samplePath writes a short path that regex matches (nil: none found).
func samplePath(re string) (string, bool) {
	if re == "" {
		return "zz-no-rule-matches-this/x.yaml", true
	}
	r, err := syntax.Parse(re, syntax.Perl)
	if err != nil {
		return "", false
	}
	var b strings.Builder
	var gen func(r *syntax.Regexp)
	gen = func(r *syntax.Regexp) {
		switch r.Op {
		case syntax.OpLiteral:
			b.WriteString(string(r.Rune))
		case syntax.OpCharClass:
			c := r.Rune[0]
			// Prefer a letter when the class allows one.
			for i := 0; i+1 < len(r.Rune); i += 2 {
				if r.Rune[i] <= 'a' && 'a' <= r.Rune[i+1] {
					c = 'a'
				}
			}
			b.WriteRune(c)
		case syntax.OpAnyChar, syntax.OpAnyCharNotNL:
			b.WriteRune('a')
		case syntax.OpCapture, syntax.OpPlus:
			gen(r.Sub[0])
		case syntax.OpRepeat:
			for i := 0; i < r.Min; i++ {
				gen(r.Sub[0])
			}
		case syntax.OpConcat:
			for _, s := range r.Sub {
				gen(s)
			}
		case syntax.OpAlternate:
			gen(r.Sub[0])
		}
	}
	gen(r)
	out := b.String()
	if out == "" || strings.HasSuffix(out, "/") {
		out += "x.yaml"
	}
	return out, true
}

// sopsReads is what sops's own config parser gives the file at rel.
func sopsReads(t *testing.T, config, rel string) ([][]Key, int) {
	t.Helper()
	conf, err := sopsconfig.LoadCreationRuleForFile(config, filepath.Join(filepath.Dir(config), rel), nil)
	if err != nil {
		t.Fatalf("sops cannot read %s for %s: %v", config, rel, err)
	}
	var groups [][]Key
	for _, g := range conf.KeyGroups {
		var keys []Key
		for _, k := range g {
			keys = append(keys, keyOf(k))
		}
		groups = append(groups, keys)
	}
	return groups, conf.ShamirThreshold
}

// agreeWithSops checks, for every rule a path can reach, that sops's parser
// reads data as want does.
func agreeWithSops(t *testing.T, data []byte, want []CreationRule) {
	t.Helper()
	dir := t.TempDir()
	config := filepath.Join(dir, ".sops.yaml")
	testutil.WriteFile(t, config, data, 0o644)
	c, err := ParseSopsConfig(config, data)
	if err != nil {
		t.Fatal(err)
	}
	if err := sameRules(want, c.Rules()); err != nil {
		t.Fatalf("nixctl reads the file differently from what was meant: %v\n%s", err, data)
	}
	checked := 0
	for _, r := range want {
		rel, ok := samplePath(r.PathRegex)
		if !ok {
			continue
		}
		if got, found, _ := c.RulesFor(rel); !found || got.Index != r.Index {
			continue // an earlier rule shadows this one for that path
		}
		groups, threshold := sopsReads(t, config, rel)
		w := r
		w.Groups = slices.Clone(r.Groups)
		// sops leaves a rule-level group of no keys empty, as nixctl does.
		if err := sameRules([]CreationRule{w}, []CreationRule{{Index: r.Index, PathRegex: r.PathRegex, Groups: groups, ShamirThreshold: threshold}}); err != nil {
			t.Errorf("sops reads %s (%s) differently: %v\n%s", r.Label(), rel, err, data)
		}
		checked++
	}
	if checked == 0 {
		t.Fatalf("no rule could be checked against sops")
	}
}

// Every corpus layout reads as sops reads it.
func TestCorpusLayoutsReadAsSopsReads(t *testing.T) {
	t.Parallel()
	for name, data := range corpusConfigs(t) {
		t.Run(name, func(t *testing.T) {
			c, err := ParseSopsConfig("/x/.sops.yaml", data)
			if err != nil {
				t.Fatal(err)
			}
			if len(c.Rules()) == 0 {
				t.Fatal("no rules read")
			}
			agreeWithSops(t, data, c.Rules())
		})
	}
}

// Adding a key to every rule, or to one rule, of every corpus layout:
// sops's parser reads the result as meant (the key where asked, every other
// rule as before, shared anchors included), few lines change, and removing
// the key again gives the rules back (and the very bytes, for all rules).
func TestCorpusEditsMeanWhatWasAsked(t *testing.T) {
	t.Parallel()
	_, host := writeKey(t)
	k := ageKey(host)
	for name, data := range corpusConfigs(t) {
		c, err := ParseSopsConfig("/x/.sops.yaml", data)
		if err != nil {
			t.Fatal(err)
		}
		sels := map[string]RuleSelector{"all": EveryRule()}
		for _, r := range c.Rules() {
			sels[r.Label()] = RuleIndexes(r.Index)
		}
		for sname, sel := range sels {
			t.Run(name+"/"+sname, func(t *testing.T) {
				e, err := c.AddRecipient(sel, NewRecipient{Name: "newhost", Key: k, Group: -1})
				if err != nil {
					t.Fatal(err)
				}
				want := c.Rules()
				for _, i := range c.selected(sel) {
					want[i].Groups = slices.Clone(want[i].Groups)
					g := 0
					if want[i].Grouped {
						g = pickGroup(want[i], "age", -1)
					}
					want[i].Groups[g] = append(slices.Clone(want[i].Groups[g]), k)
				}
				agreeWithSops(t, e.Data(), want)
				if lost := lostLines(data, e.Data()); lost > len(e.Rules)+1 {
					t.Errorf("%d original lines changed for %d rules:\n%s", lost, len(e.Rules), e.Data())
				}
				if sname != "all" && strings.Contains(string(data), "&") && len(e.Notes) == 0 && lostLines(data, e.Data()) > 0 {
					t.Errorf("a line was rewritten without a note:\n%s", e.Data())
				}
				r, err := e.After.RemoveRecipient(sel, k)
				if err != nil {
					t.Fatal(err)
				}
				agreeWithSops(t, r.Data(), c.Rules())
				if sname == "all" && string(r.Data()) != string(data) {
					t.Errorf("add then remove on every rule is not the original:\n%s", r.Data())
				}
			})
		}
	}
}

// A CRLF file stays CRLF through an edit.
func TestCorpusCRLFKept(t *testing.T) {
	t.Parallel()
	_, host := writeKey(t)
	for name, data := range corpusConfigs(t) {
		crlf := []byte(strings.ReplaceAll(string(data), "\n", "\r\n"))
		c, err := ParseSopsConfig("/x/.sops.yaml", crlf)
		if err != nil {
			t.Fatal(err)
		}
		e, err := c.AddRecipient(EveryRule(), NewRecipient{Name: "newhost", Key: ageKey(host), Group: -1})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !crlfOnly(e.Data()) {
			t.Errorf("%s: LF lines in a CRLF file:\n%q", name, e.Data())
		}
		agreeWithSops(t, e.Data(), e.After.Rules())
	}
}

// The real sops parses each edited .sops.yaml and encrypts for the rule as
// nixctl meant: the new key opens the file, a key the rule never had does
// not. Rules with pgp keys are left to the parser check above (no gpg here).
func TestCorpusEditsRefereedBySops(t *testing.T) {
	testutil.Require(t, "sops")
	hostKey, host := writeKey(t)
	otherKey, _ := writeKey(t)
	k := ageKey(host)
	for name, data := range corpusConfigs(t) {
		c, err := ParseSopsConfig("/x/.sops.yaml", data)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range c.Rules() {
			if slices.ContainsFunc(r.Keys(), func(x Key) bool { return x.Type != "age" }) || r.Required() > 1 {
				continue
			}
			rel, ok := samplePath(r.PathRegex)
			if got, found, _ := c.RulesFor(rel); !ok || !found || got.Index != r.Index {
				continue
			}
			t.Run(name+"/"+r.Label(), func(t *testing.T) {
				e, err := c.AddRecipient(RuleIndexes(r.Index), NewRecipient{Name: "newhost", Key: k, Group: -1})
				if err != nil {
					t.Fatal(err)
				}
				dir := t.TempDir()
				testutil.WriteFile(t, filepath.Join(dir, ".sops.yaml"), e.Data(), 0o644)
				file := filepath.Join(dir, filepath.FromSlash(rel))
				testutil.MkdirAll(t, filepath.Dir(file), 0o755)
				plain := "secret: value\n"
				if FormatOf(file) == JSON {
					plain = `{"secret": "value"}`
				} else if FormatOf(file) == Dotenv {
					plain = "SECRET=value\n"
				}
				testutil.WriteFile(t, file, []byte(plain), 0o600)
				if _, err := sopsCmd(t, dir, hostKey, "-e", "-i", rel); err != nil {
					t.Fatalf("sops refuses the edited .sops.yaml: %v\n%s", err, e.Data())
				}
				if _, err := sopsCmd(t, dir, hostKey, "-d", rel); err != nil {
					t.Errorf("the added key cannot open what sops encrypted for the rule: %v", err)
				}
				if _, err := sopsCmd(t, dir, otherKey, "-d", rel); err == nil {
					t.Error("a key outside the rule opens the file")
				}
			})
		}
	}
}

// remove-host on every named key of every corpus layout (nested keys:
// lists, keys shared by many rules): the key leaves every rule and keys:,
// sops reads the rest as before, and only the lines naming it change.
func TestCorpusRemoveEveryNamedKey(t *testing.T) {
	t.Parallel()
	for name, data := range corpusConfigs(t) {
		c, err := ParseSopsConfig("/x/.sops.yaml", data)
		if err != nil {
			t.Fatal(err)
		}
		for anchor := range c.anchors {
			v, ok := c.Anchor(anchor)
			if !ok || v == "" {
				continue
			}
			k := normKey(looksLike(v), v)
			if len(c.RulesWith(k)) == 0 {
				continue
			}
			t.Run(name+"/"+anchor, func(t *testing.T) {
				e, err := c.RemoveRecipient(EveryRule(), k)
				if err != nil {
					t.Fatal(err)
				}
				want := c.Rules()
				for i := range want {
					want[i].Groups = slices.Clone(want[i].Groups)
					for g := range want[i].Groups {
						want[i].Groups[g] = slices.DeleteFunc(slices.Clone(want[i].Groups[g]), func(x Key) bool { return x == k })
					}
				}
				if len(e.Empty()) > 0 {
					return // remove-host refuses this one; the reading is checked above
				}
				agreeWithSops(t, e.Data(), want)
				if strings.Contains(string(e.Data()), v) {
					t.Errorf("%s is still in the file:\n%s", v, e.Data())
				}
				// Each reference, the "pgp:" a last reference leaves empty,
				// and the keys: entry.
				refs := 2*strings.Count(string(data), "*"+anchor) + 1
				if lost := lostLines(data, e.Data()); lost > refs {
					t.Errorf("%d lines changed for %d references:\n%s", lost, refs, e.Data())
				}
			})
		}
	}
}

// `recipients: &r [...]` used as `age: *r` (sops accepts it): adding to one
// of two rules using *r gives that rule its own list, and sops agrees.
func TestAliasedListOutsideKeys(t *testing.T) {
	t.Parallel()
	const cfg = "recipients: &r [age1zrryth9r2ws0hkd0tf2cqvstyrmh3edaf2a7dlz3dp2d02fjw3js2p9xq2]\ncreation_rules:\n  - path_regex: ^a/\n    age: *r\n  - path_regex: ^b/\n    key_groups:\n      - age: *r\n"
	c, err := ParseSopsConfig("/x/.sops.yaml", []byte(cfg))
	if err != nil {
		t.Fatal(err)
	}
	for _, sel := range []RuleSelector{RuleIndexes(0), RuleIndexes(1), EveryRule()} {
		e, err := c.AddRecipient(sel, NewRecipient{Name: "host", Key: ageKey(nodeRecipient), Group: -1})
		if err != nil {
			t.Fatal(err)
		}
		want := c.Rules()
		for _, i := range c.selected(sel) {
			want[i].Groups = [][]Key{append(slices.Clone(want[i].Groups[0]), ageKey(nodeRecipient))}
		}
		agreeWithSops(t, e.Data(), want)
	}
}
