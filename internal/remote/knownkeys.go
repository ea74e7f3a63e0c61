package remote

import (
	"crypto/ed25519"
	"strings"

	"golang.org/x/crypto/ssh"
)

// KnownHostKeys lists the keys known_hosts holds for address:port, without
// connecting: what nixctl already trusts the host to be.
func (d *Dialer) KnownHostKeys(address string, port int) ([]HostKey, error) {
	kh, err := d.knownHosts()
	if err != nil {
		return nil, err
	}
	var out []HostKey
	for _, k := range kh.knownKeys(Target{Address: address, Port: port}.HostPort()) {
		hk := hostKeyOf(k)
		hk.Known = true
		out = append(out, hk)
	}
	return out, nil
}

func hostKeyOf(key ssh.PublicKey) HostKey {
	hk := HostKey{
		Type:          key.Type(),
		AuthorizedKey: strings.TrimSpace(string(ssh.MarshalAuthorizedKey(key))),
		Fingerprint:   ssh.FingerprintSHA256(key),
	}
	if ck, ok := key.(ssh.CryptoPublicKey); ok {
		if ed, ok := ck.CryptoPublicKey().(ed25519.PublicKey); ok {
			hk.Ed25519 = []byte(ed)
		}
	}
	return hk
}
