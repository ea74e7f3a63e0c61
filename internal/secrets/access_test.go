package secrets

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nixctl/nixctl/internal/execx"
	"github.com/nixctl/nixctl/internal/fault"
	"github.com/nixctl/nixctl/internal/fsx"
	"github.com/nixctl/nixctl/internal/inventory"
	"github.com/nixctl/nixctl/internal/testutil"
)

// corpusFleet copies a corpus directory into a temporary fleet whose
// secrets directory is dir (relative to the copy) and whose keys are the
// corpus key files named (read where they are).
type corpusFleet struct {
	root string
	repo Repo
	keys []string
}

func newCorpusFleet(t *testing.T, sub, dir string, keys ...string) *corpusFleet {
	t.Helper()
	corpus := testutil.WorldSops(t)
	root := t.TempDir()
	if err := testutil.CopyTree(filepath.Join(corpus, sub), root); err != nil {
		t.Fatal(err)
	}
	f := &corpusFleet{root: root, repo: Repo{Root: root, Dir: filepath.Join(root, dir), Config: filepath.Join(root, dir, ".sops.yaml")}}
	for _, k := range keys {
		f.keys = append(f.keys, filepath.Join(corpus, k))
	}
	if _, err := os.Stat(f.repo.Config); err != nil {
		f.repo.Config = filepath.Join(root, ".sops.yaml")
	}
	return f
}

// keyFile joins the fleet's keys (and extra key files) into one file.
func (f *corpusFleet) keyFile(t *testing.T, extra ...string) string {
	t.Helper()
	var b bytes.Buffer
	for _, k := range append(append([]string{}, f.keys...), extra...) {
		data, err := os.ReadFile(k)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(data)
		b.WriteString("\n")
	}
	p := filepath.Join(t.TempDir(), "keys.txt")
	testutil.WriteFile(t, p, b.Bytes(), 0o600)
	return p
}

func (f *corpusFleet) session(t *testing.T, extra ...string) *Session {
	t.Helper()
	kf := f.keyFile(t, extra...)
	home := t.TempDir()
	env := Env{AgeKeyFile: kf, Home: home, Runner: execx.NewReal()}
	s, err := NewSession(f.repo, LoadKeyring(context.Background(), env))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func snapshot(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	if err := filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
		if err == nil && info.Mode().IsRegular() {
			data, _ := os.ReadFile(p)
			rel, _ := filepath.Rel(root, p)
			out[filepath.ToSlash(rel)] = string(data)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func changedFiles(before, after map[string]string) []string {
	var out []string
	for p, d := range after {
		if before[p] != d {
			out = append(out, p)
		}
	}
	for p := range before {
		if _, ok := after[p]; !ok {
			out = append(out, p+" (deleted)")
		}
	}
	return out
}

// flux: `age: &age …` in one rule, `age: *age` in others. Adding a host to
// the rule of .env/.txt files gives that rule its own list, leaves &age (and
// so every other rule) as it was, and rekeys that rule's two files only.
func TestAddHostToOneRuleOfASharedAnchor(t *testing.T) {
	testutil.Require(t, "sops")
	f := newCorpusFleet(t, "flux", "sops", "flux/keys/age.txt")
	hostKey, host := writeKey(t)
	s := f.session(t)
	before := snapshot(t, f.root)
	edit, err := s.HostEdit("newhost", host, RuleWithRegex(`\.(env|txt)$`), -1)
	if err != nil {
		t.Fatal(err)
	}
	if len(edit.Notes) == 0 || !strings.Contains(strings.Join(edit.Notes, "\n"), "&age") {
		t.Errorf("nothing says how the shared anchor was kept: %v", edit.Notes)
	}
	ch, err := s.PlanAccess(edit)
	if err != nil {
		t.Fatal(err)
	}
	var lines []RekeyLine
	if _, err := s.Apply(ch, fsx.Disk{}, func(l RekeyLine) { lines = append(lines, l) }); err != nil {
		t.Fatalf("%v\n%v", err, lines)
	}
	changed := changedFiles(before, snapshot(t, f.root))
	want := []string{"sops/.sops.yaml", "sops/component/env.env", "sops/files/file.txt"}
	if strings.Join(sorted(changed), " ") != strings.Join(want, " ") {
		t.Errorf("changed %v, want %v", sorted(changed), want)
	}
	if lost := lostLines([]byte(before["sops/.sops.yaml"]), edit.Data()); lost != 1 {
		t.Errorf("%d lines of .sops.yaml changed, want 1:\n%s", lost, edit.Data())
	}
	dir := f.repo.Dir
	for _, p := range []string{"component/env.env", "files/file.txt"} {
		want, err := sopsCmd(t, dir, f.keys[0], "-d", p)
		if err != nil {
			t.Fatal(err)
		}
		got, err := sopsCmd(t, dir, hostKey, "-d", p)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("the new host cannot open %s: %v", p, err)
		}
	}
	if _, err := sopsCmd(t, dir, hostKey, "-d", "algorithms/age.yaml"); err == nil {
		t.Error("the host can read a file of another rule: the anchor was widened")
	}
	// sops itself reads the new rules: the host in rule 4 only.
	for rel, has := range map[string]bool{"x.env": true, "x.yaml": false, "json.yaml": false} {
		groups, _ := sopsReads(t, f.repo.Config, rel)
		if got := len(keysMinus([]Key{ageKey(host)}, flatten(groups))) == 0; got != has {
			t.Errorf("sops gives %s the host: %v, want %v", rel, got, has)
		}
	}
}

// sops-nix's secrets.yaml carries two pgp keys its rule does not list: a
// file whose recipients already differ is left alone by add-host, reported,
// and brought in line by rekey, which says who loses access.
func TestAddHostLeavesDriftedFilesAlone(t *testing.T) {
	testutil.Require(t, "sops")
	f := newCorpusFleet(t, "sops-nix", "secrets", "sops-nix/keys/age-keys.txt")
	hostKey, host := writeKey(t)
	s := f.session(t)
	before := snapshot(t, f.root)
	_, ch := planHost(t, s, host)
	if !strings.Contains(strings.Join(ch.Drifted, " "), "secrets/secrets.yaml") {
		t.Errorf("drifted: %v", ch.Drifted)
	}
	if _, err := s.Apply(ch, fsx.Disk{}, nil); err != nil {
		t.Fatal(err)
	}
	if changed := changedFiles(before, snapshot(t, f.root)); strings.Join(changed, " ") != ".sops.yaml" {
		t.Errorf("changed %v, want .sops.yaml only", changed)
	}
	lines, err := f.session(t).RekeyAll(t.Context(), []string{"secrets.yaml"}, fsx.Disk{}, nil)
	if err != nil {
		t.Fatalf("%v %v", err, lines)
	}
	if got := lines[0].String(); !strings.Contains(got, "gains access: newhost") || !strings.Contains(got, "loses access: pgp:") || !lines[0].Rotated {
		t.Errorf("rekey line: %s", got)
	}
	if _, err := sopsCmd(t, f.repo.Dir, hostKey, "-d", "secrets.yaml"); err != nil {
		t.Errorf("the host cannot open the rekeyed file: %v", err)
	}
}

// misterio77's host rules hold a pgp key nobody here has: the files of the
// rule cannot be rekeyed, so nothing is written, .sops.yaml included.
func TestAddHostIsAllOrNothing(t *testing.T) {
	t.Parallel()
	f := newCorpusFleet(t, "misterio77", ".")
	_, host := writeKey(t)
	s := f.session(t)
	before := snapshot(t, f.root)
	_, ch := planHost(t, s, host)
	_, err := s.Apply(ch, fsx.Disk{}, nil)
	if err == nil || !strings.Contains(err.Error(), "hosts/merope/secrets.yaml") || !strings.Contains(err.Error(), "nothing was written") {
		t.Fatalf("want one error naming the files: %v", err)
	}
	if changed := changedFiles(before, snapshot(t, f.root)); len(changed) > 0 {
		t.Errorf("written anyway: %v", changed)
	}
}

// With shamir_threshold 2 over two groups, a host joins one group and is
// told it cannot decrypt alone; sops agrees: its key alone fails, with a key
// of the other group it opens the file.
func TestAddHostWithShamirGroups(t *testing.T) {
	testutil.Require(t, "sops")
	userKey, user := writeKey(t)
	serverKey, server := writeKey(t)
	hostKey, host := writeKey(t)
	root := t.TempDir()
	repo := Repo{Root: root, Dir: filepath.Join(root, "secrets"), Config: filepath.Join(root, ".sops.yaml")}
	testutil.MkdirAll(t, repo.Dir, 0o755)
	testutil.WriteFile(t, repo.Config, []byte("keys:\n  - &user "+user+"\n  - &server "+server+"\ncreation_rules:\n  - path_regex: ^secrets/\n    shamir_threshold: 2\n    key_groups:\n      - age:\n          - *user\n      - age:\n          - *server\n"), 0o644)
	both := filepath.Join(t.TempDir(), "both.txt")
	testutil.WriteFile(t, both, append(append(mustRead(t, userKey), '\n'), mustRead(t, serverKey)...), 0o600)
	path := filepath.Join(repo.Dir, "x.yaml")
	env := Env{AgeKeyFile: both, Home: t.TempDir(), Runner: execx.NewReal()}
	s, err := NewSession(repo, LoadKeyring(context.Background(), env))
	if err != nil {
		t.Fatal(err)
	}
	out, _, err := s.Encrypt(path, YAML, []byte("k: v\n"))
	if err != nil {
		t.Fatal(err)
	}
	testutil.WriteFile(t, path, out, 0o644)
	edit, ch := planHost(t, s, host)
	if len(edit.Joins) != 1 || edit.Joins[0].Group != 0 || edit.Joins[0].Alone || edit.Joins[0].Required != 2 {
		t.Fatalf("joins: %+v", edit.Joins)
	}
	if _, err := s.Apply(ch, fsx.Disk{}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := sopsCmd(t, root, hostKey, "-d", path); err == nil {
		t.Error("the host alone opens a file that needs two groups")
	}
	hostAndServer := filepath.Join(t.TempDir(), "hs.txt")
	testutil.WriteFile(t, hostAndServer, append(append(mustRead(t, hostKey), '\n'), mustRead(t, serverKey)...), 0o600)
	if out, err := sopsCmd(t, root, hostAndServer, "-d", path); err != nil || string(out) != "k: v\n" {
		t.Errorf("host + server key: %q %v", out, err)
	}
	// Joining the second group instead is asked with Group.
	e2, err := ParseSopsConfig(repo.Config, mustRead(t, repo.Config))
	if err != nil {
		t.Fatal(err)
	}
	_, other := writeKey(t)
	j, err := e2.AddRecipient(EveryRule(), NewRecipient{Name: "other", Key: ageKey(other), Group: 1})
	if err != nil || j.Joins[0].Group != 1 {
		t.Errorf("group 1: %+v %v", j, err)
	}
}

func sorted(s []string) []string {
	out := append([]string{}, s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

// planHost plans adding host to every rule.
func planHost(t *testing.T, s *Session, host string) (*Edit, *AccessChange) {
	t.Helper()
	edit, err := s.HostEdit("newhost", host, EveryRule(), -1)
	if err != nil {
		t.Fatal(err)
	}
	ch, err := s.PlanAccess(edit)
	if err != nil {
		t.Fatal(err)
	}
	return edit, ch
}

// A check that could not run stops every host, as a secrets failure that
// keeps the cause's hint; otherwise only the machines that failed stop.
func TestHostFailures(t *testing.T) {
	t.Parallel()
	hosts := []inventory.Host{{Name: "a"}, {Name: "b"}}
	got := HostFailures(nil, fault.New(fault.Check, errors.New("flake.lock is stale"), "run nix flake lock"), hosts)
	for _, h := range hosts {
		err := got[h.Name]
		if err == nil || fault.KindOf(err) != fault.Secrets || fault.HintOf(err) != "run nix flake lock" || !strings.Contains(err.Error(), "flake.lock is stale") {
			t.Errorf("%s: %v (kind %v, hint %q)", h.Name, err, fault.KindOf(err), fault.HintOf(err))
		}
	}
	rep := &AccessCheck{Machines: []MachineAccess{{Kind: "host", Name: "a"}, {Kind: "host", Name: "b", Problem: "its host key is not in known_hosts"}}}
	got = HostFailures(rep, nil, hosts)
	if len(got) != 1 || got["b"] == nil {
		t.Errorf("failures = %v, want b's only", got)
	}
}
