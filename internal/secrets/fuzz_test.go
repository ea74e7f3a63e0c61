package secrets

import (
	"encoding/base64"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/nixctl/nixctl/internal/testutil"
)

// FuzzSSHToAge feeds public-key lines (what --key-file and ssh-keyscan give)
// to the conversion. Whatever it accepts is a recipient age can encrypt to,
// and the ed25519 path agrees with an independent math/big computation of the
// Montgomery map (the one sops-nix's ssh-to-age does).
func FuzzSSHToAge(f *testing.F) {
	f.Add([]byte("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl root@host\n"))
	f.Add([]byte("[127.0.0.1]:2222 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n"))
	f.Add([]byte("age1zrryth9r2ws0hkd0tf2cqvstyrmh3edaf2a7dlz3dp2d02fjw3js2p9xq2\n"))
	f.Add([]byte("# comment\nssh-rsa AAAAB3NzaC1yc2E= x\n"))
	f.Add([]byte("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAEAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if rec, err := ParseRecipientLine(data); err == nil {
			if _, err := age.ParseX25519Recipient(rec); err != nil {
				t.Fatalf("ParseRecipientLine(%q) = %s, which age refuses: %v", data, rec, err)
			}
			checkEncrypts(t, rec)
		}
		if len(data) < 32 {
			return
		}
		pub := data[:32]
		rec, err := SSHToAge(pub)
		wire := append([]byte{0, 0, 0, 11}, "ssh-ed25519"...)
		wire = append(append(wire, 0, 0, 0, 32), pub...)
		line := "ssh-ed25519 " + base64.StdEncoding.EncodeToString(wire) + " fuzz"
		fromLine, lineErr := ParseRecipientLine([]byte(line))
		if (err == nil) != (lineErr == nil) || rec != fromLine {
			t.Fatalf("SSHToAge = %q, %v; its ssh-ed25519 line gives %q, %v", rec, err, fromLine, lineErr)
		}
		if err != nil {
			return
		}
		if want, _ := bech32Encode("age", montgomeryU(pub)); rec != want {
			t.Fatalf("SSHToAge(%x) = %s, math/big gives %s", pub, rec, want)
		}
		checkEncrypts(t, rec)
	})
}

// checkEncrypts wraps a file key for rec: a recipient nixctl writes into
// .sops.yaml must be one every later rekey can encrypt to.
func checkEncrypts(t *testing.T, rec string) {
	t.Helper()
	r, err := age.ParseX25519Recipient(rec)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Wrap(make([]byte, 16)); err != nil {
		t.Fatalf("%s is accepted but age cannot encrypt to it: %v", rec, err)
	}
}

// FuzzSopsConfigEdit edits arbitrary .sops.yaml files (seeded with every
// .sops.yaml of the corpus of real layouts, read at test time) the way
// add-host and remove-host do. An edit either fails with an error or leaves
// a file that reads as meant: the key in every rule, the rest unchanged,
// the original lines kept but for at most one per rule, CRLF kept; adding
// twice changes nothing; removing what was added gives the rules back.
func FuzzSopsConfigEdit(f *testing.F) {
	f.Add([]byte(handWritten), "nixos-mini")
	f.Add([]byte(InitialSopsConfig("gabriel", "age1zrryth9r2ws0hkd0tf2cqvstyrmh3edaf2a7dlz3dp2d02fjw3js2p9xq2", "secrets")), "gateway")
	f.Add([]byte("creation_rules:\n  - path_regex: ^secrets/\n    age: age1zrryth9r2ws0hkd0tf2cqvstyrmh3edaf2a7dlz3dp2d02fjw3js2p9xq2\n"), "host")
	f.Add([]byte("keys: [&a age1zrryth9r2ws0hkd0tf2cqvstyrmh3edaf2a7dlz3dp2d02fjw3js2p9xq2]\ncreation_rules: [{key_groups: [{age: [*a]}]}]\n"), "b")
	f.Add([]byte("keys:\n  - &a age1zrryth9r2ws0hkd0tf2cqvstyrmh3edaf2a7dlz3dp2d02fjw3js2p9xq2\ncreation_rules:\n  - key_groups:\n      - age:\n          - *a\n"), "a")
	f.Add([]byte("creation_rules:\n  - age: |\n      age1zrryth9r2ws0hkd0tf2cqvstyrmh3edaf2a7dlz3dp2d02fjw3js2p9xq2\n"), "x")
	f.Add([]byte("r: &r [age1zrryth9r2ws0hkd0tf2cqvstyrmh3edaf2a7dlz3dp2d02fjw3js2p9xq2]\r\ncreation_rules:\r\n  - age: *r\r\n  - age: &s age1zrryth9r2ws0hkd0tf2cqvstyrmh3edaf2a7dlz3dp2d02fjw3js2p9xq2\r\n  - key_groups: [{age: [*s]}, {pgp: [ABCD]}]\r\n    shamir_threshold: 1\r\n"), "y")
	f.Add([]byte("creation_rules: []\n"), "x")
	f.Add([]byte("- a\n"), "x")
	for _, data := range corpusConfigs(f) {
		f.Add(data, "nixos-mini")
	}
	f.Fuzz(func(t *testing.T, data []byte, name string) {
		c, err := ParseSopsConfig("/r/.sops.yaml", data)
		if err != nil || CheckAnchorName(name) != nil {
			return
		}
		k := ageKey(nodeRecipient)
		had := len(c.RulesWith(k)) > 0 || strings.Contains(string(data), nodeRecipient)
		e, err := c.AddRecipient(EveryRule(), NewRecipient{Name: name, Key: k, Group: -1})
		if err != nil {
			return
		}
		after, err := ParseSopsConfig(c.Path, e.Data())
		if err != nil {
			t.Fatalf("the edit left an unreadable file: %v\n%s", err, e.Data())
		}
		if len(after.RulesWith(k)) != len(after.Rules()) {
			t.Fatalf("a rule lacks the new key:\n%s", e.Data())
		}
		// One line per rule, and keys: when it is written inline.
		if lost := lostLines(data, e.Data()); lost > len(e.Rules)+1 {
			t.Fatalf("%d original lines changed for %d rules:\n%s", lost, len(e.Rules), e.Data())
		}
		if crlfOnly(data) && !crlfOnly(e.Data()) {
			t.Fatalf("CRLF file got LF lines:\n%q", e.Data())
		}
		again, err := after.AddRecipient(EveryRule(), NewRecipient{Name: name, Key: k, Group: -1})
		if err != nil || again.Changed() {
			t.Fatalf("adding twice: %v\n%s", err, again.Data())
		}
		if had {
			return
		}
		r, err := after.RemoveRecipient(EveryRule(), k)
		if err != nil {
			return
		}
		if strings.Contains(string(r.Data()), nodeRecipient) {
			t.Fatalf("removed key still in the file:\n%s", r.Data())
		}
		if err := sameRules(c.Rules(), r.After.Rules()); err != nil {
			t.Fatalf("add then remove changed the rules: %v\n%s", err, r.Data())
		}
	})
}

// lostLines counts the lines of before that are not in a longest common
// subsequence with after: the lines an edit changed or removed.
func lostLines(before, after []byte) int {
	a := strings.Split(strings.ReplaceAll(string(before), "\r\n", "\n"), "\n")
	b := strings.Split(strings.ReplaceAll(string(after), "\r\n", "\n"), "\n")
	prev := make([]int, len(b)+1)
	for i := range a {
		cur := make([]int, len(b)+1)
		for j := range b {
			if a[i] == b[j] {
				cur[j+1] = prev[j] + 1
			} else {
				cur[j+1] = max(prev[j+1], cur[j])
			}
		}
		prev = cur
	}
	return len(a) - prev[len(b)]
}

// corpusConfigs reads every .sops.yaml of the corpus (none locally when it
// is missing; a failure in CI).
func corpusConfigs(tb testing.TB) map[string][]byte {
	dir, ok := testutil.FindWorldSops(testutil.RepoRoot(tb))
	if !ok {
		if testutil.InCI() {
			tb.Fatalf("the sops corpus %s is missing", dir)
		}
		return nil
	}
	out := map[string][]byte{}
	if err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Name() == ".sops.yaml" {
			if data, err := os.ReadFile(p); err == nil {
				rel, _ := filepath.Rel(dir, p)
				out[rel] = data
			}
		}
		return nil
	}); err != nil {
		tb.Fatal(err)
	}
	if len(out) == 0 {
		tb.Fatalf("no .sops.yaml under %s", dir)
	}
	return out
}

func crlfOnly(b []byte) bool {
	return strings.Contains(string(b), "\r\n") && strings.Count(string(b), "\n") == strings.Count(string(b), "\r\n")
}
