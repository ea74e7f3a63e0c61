package nix

import (
	"fmt"
	"regexp"
	"strings"
)

// Flavour is which nixos-rebuild is installed: the bash script (default in
// NixOS 25.05) or nixos-rebuild-ng (default from 25.11). They disagree on the
// elevation flag: the bash one rejects --sudo, ng deprecates --use-remote-sudo.
type Flavour string

const (
	FlavourBash Flavour = "bash"
	FlavourNG   Flavour = "ng"
)

// Actions nixos-rebuild takes that nixctl deploys with.
var Actions = []string{"switch", "boot", "test", "dry-activate", "build"}

// IsAction reports whether a is one of Actions.
func IsAction(a string) bool {
	for _, x := range Actions {
		if x == a {
			return true
		}
	}
	return false
}

// RebuildOptions describe one nixos-rebuild invocation.
type RebuildOptions struct {
	Action string
	Flake  string
	// Attr is the nixosConfigurations name; nixos-rebuild quotes it itself.
	Attr string
	// TargetHost is user@address ("" builds or activates locally).
	TargetHost string
	BuildHost  string
	// Sudo elevates on the target with the flag the flavour accepts.
	Sudo     bool
	Flavour  Flavour
	Rollback bool
	// StorePath, when set, is a system already built: nixos-rebuild
	// activates it with --store-path instead of evaluating Flake#Attr again.
	StorePath string
	// Substitutes lets the target (and build host) fetch paths from their
	// own binary caches instead of receiving them from here.
	Substitutes bool
	// Extra are the user's own arguments, last.
	Extra []string
}

// Rebuild is the nixos-rebuild argv for o.
func Rebuild(o RebuildOptions) []string {
	argv := []string{"nixos-rebuild", o.Action}
	if o.Rollback {
		argv = append(argv, "--rollback")
	}
	if o.StorePath != "" {
		argv = append(argv, StorePathFlag, o.StorePath)
	} else {
		argv = append(argv, "--flake", o.Flake+"#"+o.Attr)
	}
	if o.TargetHost != "" {
		argv = append(argv, "--target-host", o.TargetHost)
	}
	if o.BuildHost != "" {
		argv = append(argv, "--build-host", o.BuildHost)
	}
	if o.Sudo && o.TargetHost != "" {
		argv = append(argv, SudoFlag(o.Flavour))
	}
	if o.Substitutes && (o.TargetHost != "" || o.BuildHost != "") {
		argv = append(argv, "--use-substitutes")
	}
	return append(argv, o.Extra...)
}

// SudoFlag is the elevation flag the flavour accepts without a warning.
func SudoFlag(f Flavour) string {
	if f == FlavourNG {
		return "--sudo"
	}
	return "--use-remote-sudo"
}

// ProbeFlag is a flag neither flavour knows: how each refuses it tells them
// apart without deploying anything.
const ProbeFlag = "--nixctl-flavour-probe"

// RebuildProbe is the argv that tells the flavours apart.
func RebuildProbe() []string { return []string{"nixos-rebuild", ProbeFlag} }

// ParseProbe reads the answer to RebuildProbe: the bash script exits 1 with
// "unknown option `--…'"; ng (argparse) exits 2 with "usage: …" and
// "unrecognized arguments". ok is false when neither answered.
func ParseProbe(exitCode int, stderr string) (f Flavour, ok bool) {
	switch {
	case strings.Contains(stderr, "unrecognized arguments") || exitCode == 2 && strings.Contains(stderr, "usage:"):
		return FlavourNG, true
	case strings.Contains(stderr, "unknown option"):
		return FlavourBash, true
	}
	return FlavourBash, false
}

// StorePathFlag activates a closure that was already built, without
// evaluating anything: nixos-rebuild-ng has it since early 2026 (nixpkgs
// PR 482430); the bash script and older ng releases do not.
const StorePathFlag = "--store-path"

// ProbeHasStorePath reads the same answer as ParseProbe: whether the
// installed nixos-rebuild is an ng whose usage text lists --store-path.
func ProbeHasStorePath(exitCode int, stderr string) bool {
	f, ok := ParseProbe(exitCode, stderr)
	return ok && f == FlavourNG && storePathInUsage.MatchString(stderr)
}

// storePathInUsage is the flag as argparse lists it in a usage text
// ("[--store-path STORE_PATH]", "| --store-path …"), not a mention in the
// "unrecognized arguments" line.
var storePathInUsage = regexp.MustCompile(`(?m)(^|[\s\[|(])` + StorePathFlag + `([\s\]=|)]|$)`)

// SSHOpts joins ssh arguments into NIX_SSHOPTS. nixos-rebuild and nix copy
// split it on whitespace, so an argument with whitespace cannot pass.
func SSHOpts(args []string) (string, error) {
	for _, a := range args {
		if a == "" || strings.ContainsAny(a, " \t\n\r\"'\\") {
			return "", fmt.Errorf("ssh argument %q cannot go through NIX_SSHOPTS: it has spaces or quotes", a)
		}
	}
	return strings.Join(args, " "), nil
}
