package secrets

import (
	"encoding/base64"
	"strings"
	"testing"

	"filippo.io/age"
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

// FuzzSopsConfigEdit edits arbitrary .sops.yaml files the way add-host and
// remove-host do. An edit either fails with an error or leaves valid YAML
// that names the key under its anchor in every rule; adding twice changes
// nothing; removing what was added takes it out of every rule again.
func FuzzSopsConfigEdit(f *testing.F) {
	f.Add([]byte(handWritten), "nixos-mini")
	f.Add([]byte(InitialSopsConfig("gabriel", "age1zrryth9r2ws0hkd0tf2cqvstyrmh3edaf2a7dlz3dp2d02fjw3js2p9xq2", "secrets")), "gateway")
	f.Add([]byte("creation_rules:\n  - path_regex: ^secrets/\n    age: age1zrryth9r2ws0hkd0tf2cqvstyrmh3edaf2a7dlz3dp2d02fjw3js2p9xq2\n"), "host")
	f.Add([]byte("keys: [&a age1zrryth9r2ws0hkd0tf2cqvstyrmh3edaf2a7dlz3dp2d02fjw3js2p9xq2]\ncreation_rules: [{key_groups: [{age: [*a]}]}]\n"), "b")
	f.Add([]byte("keys:\n  - &a age1zrryth9r2ws0hkd0tf2cqvstyrmh3edaf2a7dlz3dp2d02fjw3js2p9xq2\ncreation_rules:\n  - key_groups:\n      - age:\n          - *a\n"), "a")
	f.Add([]byte("creation_rules:\n  - age: |\n      age1zrryth9r2ws0hkd0tf2cqvstyrmh3edaf2a7dlz3dp2d02fjw3js2p9xq2\n"), "x")
	f.Add([]byte("creation_rules: []\n"), "x")
	f.Add([]byte("- a\n"), "x")
	f.Fuzz(func(t *testing.T, data []byte, name string) {
		c, err := parseSopsConfig("/r/.sops.yaml", data)
		if err != nil {
			return
		}
		existed := c.nameOf(nodeRecipient) != ""
		if _, ok := c.Anchor(name); ok {
			existed = true
		}
		changed, err := c.AddRecipient(name, nodeRecipient, "")
		if err != nil {
			return
		}
		after, err := parseSopsConfig(c.Path, c.Data)
		if err != nil {
			t.Fatalf("the edit left invalid YAML: %v\n%s", err, c.Data)
		}
		if !existed {
			if got, _ := after.Anchor(name); got != nodeRecipient || !changed {
				t.Fatalf("after adding %q: anchor holds %q (changed %v)\n%s", name, got, changed, c.Data)
			}
		}
		for _, r := range after.rules("") {
			if l := ageList(r); l == nil || !listHas(l, nodeRecipient) {
				t.Fatalf("a rule lacks the new key:\n%s", c.Data)
			}
		}
		before := string(c.Data)
		if again, err := c.AddRecipient(name, nodeRecipient, ""); err != nil || again || string(c.Data) != before {
			t.Fatalf("adding twice: changed %v, %v\n%s", again, err, c.Data)
		}
		if existed || strings.Contains(string(data), nodeRecipient) {
			return
		}
		if _, err := c.RemoveRecipient(name); err != nil {
			return
		}
		if strings.Contains(string(c.Data), nodeRecipient) {
			t.Fatalf("removed key still in the file:\n%s", c.Data)
		}
	})
}
