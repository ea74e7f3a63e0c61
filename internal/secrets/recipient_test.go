package secrets

import (
	"path/filepath"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/nixctl/nixctl/internal/testutil"
)

func TestRecipientSources(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	want := id.Recipient().String()
	keys := filepath.Join(dir, "keys.txt")
	testutil.WriteFile(t, keys, KeyFileContent(id, time.Now()), 0o600)
	pub := filepath.Join(dir, "recipient.txt")
	testutil.WriteFile(t, pub, []byte(want+"\n"), 0o644)
	for _, p := range []string{keys, pub} {
		if got, err := RecipientFromKeyFile(p); err != nil || got != want {
			t.Errorf("%s: %q %v, want %s", filepath.Base(p), got, err, want)
		}
	}
	// The public half of ed25519 seed 0x01…, and what ssh-to-age makes of it.
	ssh := filepath.Join(dir, "id_ed25519.pub")
	testutil.WriteFile(t, ssh, []byte("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOHz+U0YtjINc54dZiJNclfmEFifF7RXCFlNlTbuZBji me@laptop\n"), 0o644)
	got, err := RecipientFromSSHPubkey(ssh)
	if err != nil || len(got) != 62 {
		t.Errorf("ssh pubkey: %q %v", got, err)
	}
	if _, err := RecipientFromSSHPubkey(keys); err == nil {
		t.Error("an age key file taken as an SSH public key")
	}
	bad := filepath.Join(dir, "bad")
	testutil.WriteFile(t, bad, []byte("hello\n"), 0o644)
	if _, err := RecipientFromKeyFile(bad); err == nil {
		t.Error("a file without a key accepted")
	}
}
