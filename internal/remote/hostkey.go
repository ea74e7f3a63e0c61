package remote

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/nixctl/nixctl/internal/execx"
)

// HostKeyKind says why a host key was refused.
type HostKeyKind int

const (
	// HostKeyUnknown: known_hosts has no key of this type for the host.
	HostKeyUnknown HostKeyKind = iota + 1
	// HostKeyChanged: known_hosts holds a different key of the same type,
	// or the key is marked @revoked.
	HostKeyChanged
)

func (k HostKeyKind) String() string {
	if k == HostKeyChanged {
		return "changed"
	}
	return "unknown"
}

// HostKeyError is a host key that known_hosts does not vouch for.
type HostKeyError struct {
	Kind HostKeyKind
	// Host is the host as known_hosts names it: "host" or "[host]:port".
	Host string
	// KeyType and Fingerprint (SHA256:…) describe the key the server offered.
	KeyType     string
	Fingerprint string
	// KnownHostsFile is where the conflicting key is (Changed, with Line), or
	// the file a new key belongs in (Unknown).
	KnownHostsFile string
	Line           int
	// Port and Address are what ssh-keyscan takes.
	Address string
	Port    int
	// Route is the route whose host offered the key.
	Route Route
}

func (e *HostKeyError) Error() string {
	if e.Kind == HostKeyChanged {
		where := e.KnownHostsFile
		if e.Line > 0 {
			where += ":" + strconv.Itoa(e.Line)
		}
		return fmt.Sprintf("host key of %s CHANGED: the server offers %s %s but %s holds a different key", e.Host, e.KeyType, e.Fingerprint, where)
	}
	return fmt.Sprintf("host key of %s is unknown: %s %s is not in known_hosts", e.Host, e.KeyType, e.Fingerprint)
}

// Hint says how to resolve it, without ever suggesting to turn checking off.
func (e *HostKeyError) Hint() string {
	file := e.KnownHostsFile
	if file == "" {
		file = "~/.ssh/known_hosts"
	}
	if e.Kind == HostKeyChanged {
		return fmt.Sprintf("if %s was reinstalled, remove the old key (ssh-keygen -R %s -f %s) and add the new one; if not, someone may be intercepting the connection", e.Address, execx.QuoteWord(e.Host), execx.QuoteWord(file))
	}
	check := fmt.Sprintf("check %s with the host's owner (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub on the host)", e.Fingerprint)
	if e.Route.Jump != nil || e.Route.HostKeyAlias != "" {
		// ssh-keyscan cannot go through a jump host: ssh itself asks, shows
		// the fingerprint and records the key where this route reads it.
		return fmt.Sprintf("%s, then accept it once with: %s", check, execx.Quote(e.Route.Command("true")))
	}
	scan := "ssh-keyscan"
	if e.Port != 0 && e.Port != 22 {
		scan += " -p " + strconv.Itoa(e.Port)
	}
	return fmt.Sprintf("%s, then add it: %s %s >> %s", check, scan, e.Address, file)
}

// knownHostsCheck wraps x/crypto's known_hosts database with nixctl's errors.
type knownHostsCheck struct {
	db        ssh.HostKeyCallback // nil: no known_hosts file exists
	firstFile string
}

// knownHostsFor reads r's known_hosts files, the user's then the global
// ones; missing files are skipped.
func knownHostsFor(r Route) (*knownHostsCheck, error) {
	var files []string
	for _, f := range append(append([]string(nil), r.UserKnownHosts...), r.GlobalKnownHosts...) {
		if isRegular(f) {
			files = append(files, f)
		}
	}
	k := &knownHostsCheck{}
	if len(r.UserKnownHosts) > 0 {
		k.firstFile = r.UserKnownHosts[0]
	}
	if len(files) == 0 {
		return k, nil
	}
	db, err := knownhosts.New(files...)
	if err != nil {
		return nil, &KnownHostsError{Err: err}
	}
	k.db = db
	return k, nil
}

// KnownHostsError is a known_hosts file nixctl cannot parse.
type KnownHostsError struct{ Err error }

func (e *KnownHostsError) Error() string { return "reading known_hosts: " + e.Err.Error() }
func (e *KnownHostsError) Unwrap() error { return e.Err }

// Hint says what to fix.
func (e *KnownHostsError) Hint() string {
	return "fix or remove the line named above; ssh-keygen -F HOST shows a host's entries"
}

func (k *knownHostsCheck) callback() ssh.HostKeyCallback {
	return func(hostname string, remote net.Addr, key ssh.PublicKey) error {
		return k.check(hostname, remote, key)
	}
}

// check verifies key for hostname (host:port). nil means known and matching.
func (k *knownHostsCheck) check(hostname string, remote net.Addr, key ssh.PublicKey) error {
	host, portStr, _ := net.SplitHostPort(hostname)
	port, _ := strconv.Atoi(portStr)
	e := &HostKeyError{
		Kind: HostKeyUnknown, Host: knownhosts.Normalize(hostname), KeyType: key.Type(),
		Fingerprint: ssh.FingerprintSHA256(key), KnownHostsFile: k.firstFile, Address: host, Port: port,
	}
	if k.db == nil {
		return e
	}
	err := k.db(hostname, remote, key)
	if err == nil {
		return nil
	}
	var revoked *knownhosts.RevokedError
	if errors.As(err, &revoked) {
		e.Kind, e.KnownHostsFile, e.Line = HostKeyChanged, revoked.Revoked.Filename, revoked.Revoked.Line
		return e
	}
	var ke *knownhosts.KeyError
	if !errors.As(err, &ke) {
		return err
	}
	for _, w := range ke.Want {
		if w.Key.Type() == key.Type() {
			e.Kind, e.KnownHostsFile, e.Line = HostKeyChanged, w.Filename, w.Line
			return e
		}
	}
	return e
}

// knownTypes lists the key types known_hosts has for hostport.
func (k *knownHostsCheck) knownTypes(hostport string) []string {
	var types []string
	for _, key := range k.knownKeys(hostport) {
		types = append(types, key.Type())
	}
	return types
}

// knownKeys lists the keys known_hosts holds for hostport.
func (k *knownHostsCheck) knownKeys(hostport string) []ssh.PublicKey {
	if k.db == nil {
		return nil
	}
	_, probe, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil
	}
	signer, err := ssh.NewSignerFromKey(probe)
	if err != nil {
		return nil
	}
	// A key nobody has: the error lists every key known for the host.
	err = k.db(hostport, &net.TCPAddr{IP: net.IPv4zero}, signer.PublicKey())
	var ke *knownhosts.KeyError
	if !errors.As(err, &ke) {
		return nil
	}
	var keys []ssh.PublicKey
	for _, w := range ke.Want {
		keys = append(keys, w.Key)
	}
	return keys
}

// algorithms asks the server for a key type known_hosts holds, so that a
// host with an ed25519 entry is not refused for offering ECDSA first.
func (k *knownHostsCheck) algorithms(hostport string) []string {
	var algs []string
	seen := map[string]bool{}
	for _, t := range k.knownTypes(hostport) {
		for _, a := range algorithmsFor(t) {
			if !seen[a] {
				seen[a] = true
				algs = append(algs, a)
			}
		}
	}
	return algs
}

func algorithmsFor(keyType string) []string {
	if keyType == ssh.KeyAlgoRSA {
		return []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}
	}
	return []string{keyType}
}

// HostKey is one key a server offers.
type HostKey struct {
	Type string `json:"type"`
	// AuthorizedKey is the key in authorized_keys form: "ssh-ed25519 AAAA…".
	AuthorizedKey string `json:"authorizedKey"`
	Fingerprint   string `json:"fingerprint"`
	// Ed25519 is the raw 32-byte public key of an ed25519 host key.
	Ed25519 []byte `json:"-"`
	// Known reports whether known_hosts holds this very key for the host.
	Known bool `json:"known"`
}

// fetchAlgorithms are asked one per handshake, ed25519 first.
var fetchAlgorithms = []string{
	ssh.KeyAlgoED25519, ssh.KeyAlgoECDSA256, ssh.KeyAlgoECDSA384, ssh.KeyAlgoECDSA521, ssh.KeyAlgoRSASHA512,
}

var errGotKey = errors.New("host key received")

// FetchHostKeys reads the host keys the host at the end of r offers (one
// handshake per key type, through r's jump hosts; nothing is authenticated
// on the host itself), ed25519 first, each marked Known when r's known_hosts
// holds it. A key that conflicts with known_hosts is a *HostKeyError of kind
// Changed.
func (d *Dialer) FetchHostKeys(ctx context.Context, r Route) ([]HostKey, error) {
	kh, err := knownHostsFor(r)
	if err != nil {
		return nil, err
	}
	var via *Client
	if r.Jump != nil {
		if via, err = d.Dial(ctx, *r.Jump); err != nil {
			return nil, &JumpError{Route: r, Err: err}
		}
		defer via.Close()
	}
	addr := r.KnownHostsAddr()
	var keys []HostKey
	var firstErr error
	for _, alg := range fetchAlgorithms {
		var conn net.Conn
		if via != nil {
			conn, err = via.conn.DialContext(ctx, "tcp", r.Addr())
		} else {
			var nd net.Dialer
			dctx, cancel := context.WithTimeout(ctx, timeoutOf(r))
			conn, err = nd.DialContext(dctx, "tcp", r.Addr())
			cancel()
		}
		if err != nil {
			return nil, d.connectErr(ctx, r, err)
		}
		var got ssh.PublicKey
		cfg := &ssh.ClientConfig{
			User:              "nixctl-keyscan",
			HostKeyAlgorithms: []string{alg},
			HostKeyCallback: func(_ string, _ net.Addr, key ssh.PublicKey) error {
				got = key
				return errGotKey
			},
			Timeout: timeoutOf(r),
		}
		_, _, _, err = clientConn(ctx, conn, addr, cfg)
		if got == nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("ssh %s: %w", r, ctx.Err())
			}
			if firstErr == nil && err != nil && !strings.Contains(err.Error(), "no common algorithm") {
				firstErr = err
			}
			continue
		}
		hk := hostKeyOf(got)
		switch err := kh.check(addr, &net.TCPAddr{IP: net.IPv4zero}, got); {
		case err == nil:
			hk.Known = true
		case isChanged(err):
			var e *HostKeyError
			errors.As(err, &e)
			e.Route = r
			return nil, e
		}
		keys = append(keys, hk)
	}
	if len(keys) == 0 {
		if firstErr == nil {
			firstErr = errors.New("the server offered no host key nixctl knows how to read")
		}
		return nil, &ConnectError{Route: r, Stage: "connect", Err: firstErr}
	}
	return keys, nil
}

func isChanged(err error) bool {
	var hk *HostKeyError
	return errors.As(err, &hk) && hk.Kind == HostKeyChanged
}
