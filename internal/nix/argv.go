// Package nix builds the argv of nix, nixos-rebuild and home-manager
// invocations from typed values, and parses what those tools print. It runs
// nothing: callers hand the argv to an execx.Runner.
package nix

import (
	"strconv"
	"strings"
)

// Common flags every nix invocation gets: the experimental features named
// explicitly, so nixctl works whatever the user's nix.conf says.
var commonFlags = []string{"--extra-experimental-features", "nix-command flakes"}

// Attr quotes one attribute name for an installable's attribute path:
// nixosConfigurations."gabriel@laptop" (what nixos-rebuild and home-manager do).
func Attr(name string) string {
	if isPlainAttr(name) {
		return name
	}
	return strconv.Quote(name)
}

func isPlainAttr(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		ok := r == '_' || r == '\'' || r == '-' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || (i > 0 && r >= '0' && r <= '9')
		if !ok {
			return false
		}
	}
	return true
}

// Installable is flake#attr.path with each component quoted as needed.
func Installable(flake string, path ...string) string {
	return flake + "#" + strings.Join(path, ".")
}

// ToplevelAttr is the attribute path of a NixOS host's system.
func ToplevelAttr(attr string) []string {
	return []string{"nixosConfigurations", Attr(attr), "config", "system", "build", "toplevel"}
}

// ActivationAttr is the attribute path of a Home Manager profile's activation package.
func ActivationAttr(attr string) []string {
	return []string{"homeConfigurations", Attr(attr), "activationPackage"}
}

// Nix starts a nix argv with the common flags.
func Nix(sub ...string) []string {
	argv := append([]string{"nix"}, sub...)
	return append(argv, commonFlags...)
}

// FlakeCheckOptions are the knobs of nix flake check.
type FlakeCheckOptions struct {
	NoBuild bool
	// KeepGoing continues after the first failed build.
	KeepGoing bool
	// Extra is passed after nixctl's own flags (the user's -- NIX_ARGS).
	Extra []string
	// ReadLock: an evaluation of the same flake runs beside this check and
	// writes flake.lock if it must; this one only reads it.
	ReadLock bool
}

// NoWriteLockFile is given to every nix process that runs beside another
// one locking the same flake: when the lock is missing or stale each would
// write it and, in a git repository, git add it, and two git adds at once
// fail on .git/index.lock. One process writes; the others lock in memory.
const NoWriteLockFile = "--no-write-lock-file"

// FlakeCheck is nix flake check with internal-json logs for parseable errors.
func FlakeCheck(flake string, o FlakeCheckOptions) []string {
	argv := Nix("flake", "check", flake, "--log-format", "internal-json", "--show-trace")
	if o.NoBuild {
		argv = append(argv, "--no-build")
	}
	if o.KeepGoing {
		argv = append(argv, "--keep-going")
	}
	if o.ReadLock {
		argv = append(argv, NoWriteLockFile)
	}
	return append(argv, o.Extra...)
}

// EvalDrvPath evaluates the .drvPath of an attribute path, which forces the
// whole configuration to evaluate (and so catches NixOS type errors).
func EvalDrvPath(flake string, path []string, extra ...string) []string {
	p := append(append([]string(nil), path...), "drvPath")
	argv := Nix("eval", "--raw", Installable(flake, p...), "--log-format", "internal-json", "--show-trace")
	return append(argv, extra...)
}

// EvalAttrNames lists the names of an attribute set output, e.g. nixosConfigurations.
func EvalAttrNames(flake, output string) []string {
	return Nix("eval", "--json", Installable(flake, output), "--apply", "builtins.attrNames")
}

// Build builds installables in one invocation, printing JSON, creating no links.
func Build(installables []string, extra ...string) []string {
	argv := Nix("build", "--no-link", "--json", "--log-format", "internal-json")
	argv = append(argv, extra...)
	return append(argv, installables...)
}

// Version is nix --version.
func Version() []string { return []string{"nix", "--version"} }
