package remote

import (
	"crypto/ed25519"
	"strings"

	"golang.org/x/crypto/ssh"
)

// KnownHostKeys lists the keys r's known_hosts files hold for the host at
// the end of r, without connecting: what nixctl already trusts it to be.
func KnownHostKeys(r Route) ([]HostKey, error) {
	kh, err := knownHostsFor(r)
	if err != nil {
		return nil, err
	}
	var out []HostKey
	for _, k := range kh.knownKeys(r.KnownHostsAddr()) {
		hk := hostKeyOf(k)
		hk.Known = true
		out = append(out, hk)
	}
	return out, nil
}

// hostKeyOf describes key as HostKey does.
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
