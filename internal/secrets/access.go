package secrets

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/getsops/sops/v3"
	sopsage "github.com/getsops/sops/v3/age"
	"go.yaml.in/yaml/v3"

	"github.com/nixctl/nixctl/internal/fault"
)

// Who can read a file: its key groups compared with its creation rule.

// Keys lists the file's keys by group, named as .sops.yaml names them.
func (e *Encrypted) Keys() [][]Key {
	var out [][]Key
	for _, g := range e.Tree.Metadata.KeyGroups {
		var keys []Key
		for _, k := range g {
			keys = append(keys, keyOf(k))
		}
		out = append(out, keys)
	}
	return out
}

// sameKey compares two keys; pgp keys by fingerprint, where .sops.yaml may
// give the long key ID (the fingerprint's last 16 digits) and any case.
func sameKey(a, b Key) bool {
	if a.Type != b.Type {
		return false
	}
	if a.Type != "pgp" {
		return a.Value == b.Value
	}
	x, y := strings.ToUpper(strings.ReplaceAll(a.Value, " ", "")), strings.ToUpper(strings.ReplaceAll(b.Value, " ", ""))
	if len(x) < len(y) {
		x, y = y, x
	}
	return x == y || (len(y) >= 16 && strings.HasSuffix(x, y))
}

// keysMinus lists the keys of a not in b.
func keysMinus(a, b []Key) []Key {
	var out []Key
	for _, k := range a {
		if !slices.ContainsFunc(b, func(x Key) bool { return sameKey(k, x) }) && !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	return out
}

func flatten(groups [][]Key) []Key {
	var out []Key
	for _, g := range groups {
		out = append(out, g...)
	}
	return out
}

// sameGroups reports whether a file's groups are its rule's, group by group.
func sameGroups(file, rule [][]Key) bool {
	if len(file) != len(rule) {
		return false
	}
	for i := range file {
		if len(keysMinus(file[i], rule[i])) > 0 || len(keysMinus(rule[i], file[i])) > 0 {
			return false
		}
	}
	return true
}

// checkable reports whether nixctl can compare keys of this type with a
// file's: age and pgp; cloud KMS and Vault keys are named differently in
// files and in .sops.yaml.
func checkable(k Key) bool { return k.Type == "age" || k.Type == "pgp" }

// ruleOf returns the creation rule .sops.yaml (as loaded) gives path.
func (s *Session) ruleOf(path string) (CreationRule, error) {
	if err := s.requireConfig(); err != nil {
		return CreationRule{}, err
	}
	rel, err := filepath.Rel(filepath.Dir(s.Config.Path), path)
	if err != nil {
		rel = path
	}
	r, ok, err := s.Config.RulesFor(filepath.ToSlash(rel))
	if err != nil {
		return CreationRule{}, fault.New(fault.Secrets, err, "fix the path_regex in "+s.Repo.Rel(s.Config.Path))
	}
	if !ok {
		return CreationRule{}, fault.Newf(fault.Secrets, "add a creation rule whose path_regex matches it to "+s.Repo.Rel(s.Config.Path), "%s: no path_regex matches %s", filepath.Base(s.Config.Path), filepath.ToSlash(rel))
	}
	return r, nil
}

// sopsGroups turns a rule's groups into sops key groups nixctl can encrypt
// for: age recipients only.
func sopsGroups(r CreationRule) ([]sops.KeyGroup, error) {
	var out []sops.KeyGroup
	for _, g := range r.Groups {
		var kg sops.KeyGroup
		for _, k := range g {
			mk, err := ageMasterKey(k)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", r.Label(), err)
			}
			kg = append(kg, mk)
		}
		out = append(out, kg)
	}
	return out, nil
}

var errForeignKey = errors.New("nixctl encrypts for age recipients only")

func ageMasterKey(k Key) (*sopsage.MasterKey, error) {
	if k.Type != "age" {
		return nil, fmt.Errorf("%w, and the rule has a %s key (%s): rekey it with sops updatekeys where that key is available", errForeignKey, k.Type, shortKey(k.Value))
	}
	if isPluginRecipient(k.Value) {
		return nil, fmt.Errorf("%w, and %s… is an age plugin recipient (nixctl does not run plugins)", errForeignKey, k.Value[:min(16, len(k.Value))])
	}
	return sopsage.MasterKeyFromRecipient(k.Value)
}

// keyName names a key for people: its anchor, else its value.
func (s *Session) keyName(k Key) string {
	if n, ok := s.retired[k.Value]; ok {
		return n
	}
	if s.Config != nil {
		if n := s.Config.nameOf(k.Value); n != "" {
			return printable(n)
		}
		for name, node := range s.Config.anchors {
			if node.Kind == yaml.ScalarNode && sameKey(k, normKey(k.Type, node.Value)) {
				return printable(name)
			}
		}
	}
	if k.Type == "age" {
		return printable(k.Value)
	}
	return printable(k.Type + ":" + k.Value)
}

func (s *Session) keyNames(ks []Key) []string {
	out := make([]string, len(ks))
	for i, k := range ks {
		out[i] = s.keyName(k)
	}
	return out
}
