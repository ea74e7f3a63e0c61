package nix

import "regexp"

// CopyToStore is `nix copy --to STORE PATH...`: it pushes the closures of
// paths to another store, such as a binary cache (file:///srv/cache,
// s3://bucket, ssh://cache.lan), sending each path the store lacks once.
func CopyToStore(store string, paths ...string) []string {
	return append(append(Nix("copy"), "--to", store), paths...)
}

// storePathRe is a path directly under /nix/store: a 32-character hash and
// a name of the characters nix allows.
var storePathRe = regexp.MustCompile(`^/nix/store/[0-9a-z]{32}-[A-Za-z0-9+\-._?=]+$`)

// IsStorePath reports whether p names a store object (what a host's
// /run/current-system points at), so it may reach an argv or a remote shell.
func IsStorePath(p string) bool { return storePathRe.MatchString(p) }
