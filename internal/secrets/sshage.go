package secrets

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"filippo.io/age"
	"filippo.io/edwards25519"
)

// SSHToAge converts an ed25519 public key to the age X25519 recipient that
// sops-nix derives from /etc/ssh/ssh_host_ed25519_key (what ssh-to-age does):
// the Edwards point is mapped to its Montgomery u-coordinate and encoded in
// bech32 with the "age" prefix. A plain ssh-ed25519 recipient would not do:
// sops-nix decrypts with the converted X25519 key.
func SSHToAge(ed25519Pub []byte) (string, error) {
	if len(ed25519Pub) != 32 {
		return "", fmt.Errorf("an ed25519 public key is 32 bytes, got %d", len(ed25519Pub))
	}
	p, err := new(edwards25519.Point).SetBytes(ed25519Pub)
	if err != nil {
		return "", errors.New("not a valid ed25519 public key")
	}
	rec, err := bech32Encode("age", p.BytesMontgomery())
	if err != nil {
		return "", err
	}
	// age itself must accept what we produce, and be able to encrypt to it.
	r, err := age.ParseX25519Recipient(rec)
	if err != nil {
		return "", err
	}
	if err := usable(r); err != nil {
		return "", err
	}
	return rec, nil
}

// usable refuses a recipient of small order (the identity point, say):
// age parses it but cannot encrypt to it, so every later rekey would fail.
func usable(r *age.X25519Recipient) error {
	if _, err := r.Wrap(make([]byte, 16)); err != nil {
		return errors.New("not a usable key: age cannot encrypt to it (a point of small order)")
	}
	return nil
}

// ParseRecipientLine reads a host's public key as given to --key-file: an
// age1 recipient, or an OpenSSH "ssh-ed25519 AAAA… [comment]" line (what
// /etc/ssh/ssh_host_ed25519_key.pub holds), which is converted. Other key
// types are refused: sops-nix only derives age keys from ed25519 host keys.
func ParseRecipientLine(data []byte) (recipient string, err error) {
	for _, line := range strings.Split(string(data), "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 || strings.HasPrefix(fields[0], "#") {
			continue
		}
		if strings.HasPrefix(fields[0], "age1") {
			r, err := age.ParseX25519Recipient(fields[0])
			if err != nil {
				return "", fmt.Errorf("not a valid age recipient: %w", err)
			}
			if err := usable(r); err != nil {
				return "", err
			}
			return fields[0], nil
		}
		// known_hosts lines put host names first.
		for i, f := range fields {
			if f == "ssh-ed25519" && i+1 < len(fields) {
				pub, err := ed25519FromWire(fields[i+1])
				if err != nil {
					return "", err
				}
				return SSHToAge(pub)
			}
			if strings.HasPrefix(f, "ssh-") || strings.HasPrefix(f, "ecdsa-") {
				return "", fmt.Errorf("%s key: sops-nix derives age keys from ed25519 host keys only", f)
			}
		}
	}
	return "", errors.New("no ssh-ed25519 public key or age1 recipient found")
}

// ed25519FromWire decodes the base64 SSH wire form: string "ssh-ed25519",
// then string key (32 bytes).
func ed25519FromWire(b64 string) ([]byte, error) {
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, errors.New("the ssh-ed25519 key is not valid base64")
	}
	next := func() ([]byte, error) {
		if len(raw) < 4 {
			return nil, errors.New("truncated ssh-ed25519 key")
		}
		n := binary.BigEndian.Uint32(raw)
		if uint64(len(raw)-4) < uint64(n) {
			return nil, errors.New("truncated ssh-ed25519 key")
		}
		v := raw[4 : 4+n]
		raw = raw[4+n:]
		return v, nil
	}
	typ, err := next()
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(typ, []byte("ssh-ed25519")) {
		return nil, fmt.Errorf("key type %q inside an ssh-ed25519 line", typ)
	}
	key, err := next()
	if err != nil {
		return nil, err
	}
	if len(key) != 32 || len(raw) != 0 {
		return nil, errors.New("malformed ssh-ed25519 key")
	}
	return key, nil
}

// bech32Encode is BIP 173 bech32 (not bech32m), which age uses. age's own
// encoder is internal to its module.
func bech32Encode(hrp string, data []byte) (string, error) {
	conv, err := convertBits(data, 8, 5, true)
	if err != nil {
		return "", err
	}
	values := append(bech32HRPExpand(hrp), conv...)
	polymod := bech32Polymod(append(values, 0, 0, 0, 0, 0, 0)) ^ 1
	var sb strings.Builder
	sb.WriteString(hrp)
	sb.WriteByte('1')
	for _, v := range conv {
		sb.WriteByte(bech32Charset[v])
	}
	for i := 0; i < 6; i++ {
		sb.WriteByte(bech32Charset[(polymod>>uint(5*(5-i)))&31])
	}
	return sb.String(), nil
}

const bech32Charset = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"

func bech32Polymod(values []byte) uint32 {
	gen := [5]uint32{0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3}
	chk := uint32(1)
	for _, v := range values {
		top := chk >> 25
		chk = (chk&0x1ffffff)<<5 ^ uint32(v)
		for i := 0; i < 5; i++ {
			if (top>>uint(i))&1 == 1 {
				chk ^= gen[i]
			}
		}
	}
	return chk
}

func bech32HRPExpand(hrp string) []byte {
	out := make([]byte, 0, len(hrp)*2+1)
	for i := 0; i < len(hrp); i++ {
		out = append(out, hrp[i]>>5)
	}
	out = append(out, 0)
	for i := 0; i < len(hrp); i++ {
		out = append(out, hrp[i]&31)
	}
	return out
}

func convertBits(data []byte, from, to uint, pad bool) ([]byte, error) {
	var acc, bits uint
	maxv := uint(1)<<to - 1
	var out []byte
	for _, b := range data {
		acc = acc<<from | uint(b)
		bits += from
		for bits >= to {
			bits -= to
			out = append(out, byte(acc>>bits&maxv))
		}
	}
	if pad && bits > 0 {
		out = append(out, byte(acc<<(to-bits)&maxv))
	} else if !pad && (bits >= from || acc<<(to-bits)&maxv != 0) {
		return nil, errors.New("invalid padding")
	}
	return out, nil
}
