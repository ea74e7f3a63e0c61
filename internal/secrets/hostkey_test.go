package secrets

import (
	"crypto/ed25519"
	"crypto/sha512"
	"encoding/base64"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/nixctl/nixctl/internal/fsx"
	"github.com/nixctl/nixctl/internal/inventory"
	"github.com/nixctl/nixctl/internal/remote"
	"github.com/nixctl/nixctl/internal/testutil"
)

// sopsNixIdentity derives, from an ed25519 private key, the age identity
// sops-nix uses on the host (ssh-to-age -private-key): the X25519 scalar is
// the first half of SHA-512 of the seed. age itself computes its recipient,
// so this is independent of SSHToAge's public-key path.
func sopsNixIdentity(t *testing.T, priv ed25519.PrivateKey) *age.X25519Identity {
	t.Helper()
	h := sha512.Sum512(priv.Seed())
	s, err := bech32Encode("age-secret-key-", h[:32])
	if err != nil {
		t.Fatal(err)
	}
	id, err := age.ParseX25519Identity(strings.ToUpper(s))
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// montgomeryU maps an Edwards y (little-endian, sign bit cleared) to the
// Montgomery u = (1+y)/(1-y) mod 2^255-19, with math/big.
func montgomeryU(pub []byte) []byte {
	p := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 255), big.NewInt(19))
	le := append([]byte(nil), pub...)
	le[31] &= 0x7f
	for i, j := 0, len(le)-1; i < j; i, j = i+1, j-1 {
		le[i], le[j] = le[j], le[i]
	}
	y := new(big.Int).SetBytes(le)
	num := new(big.Int).Add(big.NewInt(1), y)
	den := new(big.Int).Sub(big.NewInt(1), y)
	den.Mod(den, p)
	u := num.Mul(num, den.ModInverse(den, p))
	u.Mod(u, p)
	out := make([]byte, 32)
	b := u.Bytes()
	for i := range b {
		out[i] = b[len(b)-1-i]
	}
	return out
}

func TestSSHToAgeMatchesSopsNix(t *testing.T) {
	t.Parallel()
	for _, seed := range []string{"nixos-mini", "gateway", "a third host key seed!!"} {
		s := sha512.Sum512([]byte(seed))
		priv := ed25519.NewKeyFromSeed(s[:32])
		pub := priv.Public().(ed25519.PublicKey)
		got, err := SSHToAge(pub)
		if err != nil {
			t.Fatal(err)
		}
		if want := sopsNixIdentity(t, priv).Recipient().String(); got != want {
			t.Errorf("SSHToAge = %s, sops-nix would use %s", got, want)
		}
		viaBig, _ := bech32Encode("age", montgomeryU(pub))
		if got != viaBig {
			t.Errorf("SSHToAge = %s, math/big map gives %s", got, viaBig)
		}
		wire := append([]byte{0, 0, 0, 11}, "ssh-ed25519"...)
		wire = append(append(wire, 0, 0, 0, 32), pub...)
		line := "ssh-ed25519 " + base64.StdEncoding.EncodeToString(wire) + " root@host\n"
		if r, err := ParseRecipientLine([]byte(line)); err != nil || r != got {
			t.Errorf("ParseRecipientLine = %s, %v", r, err)
		}
	}
	for _, bad := range []string{"", "ssh-rsa AAAAB3NzaC1yc2E= x", "ssh-ed25519 !!!", "age1notarecipient"} {
		if _, err := ParseRecipientLine([]byte(bad)); err == nil {
			t.Errorf("ParseRecipientLine(%q) accepted", bad)
		}
	}
}

// add-host against a real sshd: the recipient fetched over SSH is the one
// sops-nix derives from the host's private key, and after AddHost + rekey
// that key opens every secret.
func TestAddHostOverRealSSHD(t *testing.T) {
	testutil.Require(t, "sops")
	sshd := testutil.StartSSHD(t, testutil.SSHDOptions{})
	f := newFixture(t)
	paths := []string{f.add("kubeconfig/a.yml", []byte("token: t1\n")), f.add("app/b.json", []byte(`{"p": "t2"}`))}
	host := &inventory.Host{Name: "nixos-mini", Address: "127.0.0.1", Port: sshd.Port}

	// Not in known_hosts: confirmation is asked with the fingerprint.
	d, err := remote.New(remote.Env{Home: f.home, SystemHome: f.home, SystemConfig: filepath.Join(f.home, "no-ssh-config")})
	if err != nil {
		t.Fatal(err)
	}
	asked := ""
	_, _, err = HostRecipient(t.Context(), d, f.repo.Root, host, func(k remote.HostKey) error { asked = k.Fingerprint; return os.ErrPermission })
	if err == nil || !strings.HasPrefix(asked, "SHA256:") {
		t.Fatalf("an unknown host key was not confirmed: %v %q", err, asked)
	}

	// Known: the user's known_hosts holds it.
	kh, _ := os.ReadFile(sshd.KnownHostsFile)
	testutil.WriteFiles(t, f.home, map[string]string{".ssh/known_hosts": string(kh)})
	rec, hk, err := HostRecipient(t.Context(), d, f.repo.Root, host, func(remote.HostKey) error { t.Fatal("known key asked for"); return nil })
	if err != nil {
		t.Fatal(err)
	}
	id := sopsNixIdentity(t, sshd.HostKey)
	if rec != id.Recipient().String() {
		t.Fatalf("recipient %s, sops-nix derives %s", rec, id.Recipient())
	}
	if fromFile, err := ParseRecipientLine([]byte(sshd.HostKeyPub)); err != nil || fromFile != rec || hk.AuthorizedKey != strings.TrimSpace(sshd.HostKeyPub) {
		t.Errorf("the public key file gives %s (%v)", fromFile, err)
	}

	s := f.session()
	edit, err := s.HostEdit("nixos-mini", rec, EveryRule(), -1)
	if err != nil || !edit.Changed() {
		t.Fatal(err)
	}
	ch, err := s.PlanAccess(edit)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Apply(ch, fsx.Disk{}, nil); err != nil {
		t.Fatal(err)
	}
	hostKeys := filepath.Join(t.TempDir(), "host.txt")
	testutil.WriteFile(t, hostKeys, []byte(id.String()+"\n"), 0o600)
	f.env.AgeKeyFile = hostKeys
	f.env.Home = t.TempDir()
	for _, p := range paths {
		f.open(p)
		if _, err := sopsCmd(t, f.repo.Root, hostKeys, "-d", p); err != nil {
			t.Errorf("sops -d with the host's sops-nix key: %v", err)
		}
	}
}

// Found by FuzzSSHToAge: a key of small order (here the identity point) gave a
// recipient age parses but cannot encrypt to; add-host would have written it
// into .sops.yaml and every rekey after it would fail.
func TestSSHToAgeRefusesSmallOrderKeys(t *testing.T) {
	t.Parallel()
	identity := make([]byte, 32)
	identity[0] = 1
	if rec, err := SSHToAge(identity); err == nil {
		t.Errorf("SSHToAge(identity) = %s", rec)
	}
	for _, line := range []string{
		"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAEAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		"age1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq5cu47z",
	} {
		if _, err := ParseRecipientLine([]byte(line)); err == nil || !strings.Contains(err.Error(), "cannot encrypt") {
			t.Errorf("ParseRecipientLine(%q): %v", line, err)
		}
	}
}
