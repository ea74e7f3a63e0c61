package nix

import (
	"strconv"
	"strings"
)

// HomeManagerOptions describe one home-manager invocation.
type HomeManagerOptions struct {
	// Flake is the flake reference of the repository; Attr the profile's
	// homeConfigurations attribute, unquoted (home-manager quotes it itself).
	Flake string
	Attr  string
	// BackupExt is passed as -b: existing files are moved aside to FILE.EXT.
	BackupExt string
	// Extra is passed after nixctl's own arguments.
	Extra []string
}

// HomeManagerSwitch is `home-manager switch --flake FLAKE#ATTR [-b EXT]`.
func HomeManagerSwitch(o HomeManagerOptions) []string {
	return append([]string{"home-manager"}, homeManagerArgs("switch", o)...)
}

// HomeManagerViaNix runs the home-manager pinned by the repository's
// flake.lock, for machines without home-manager on PATH:
// `nix run --inputs-from FLAKE home-manager -- switch …`. nixExtra goes to
// nix (e.g. --option flake-registry FILE when offline).
func HomeManagerViaNix(o HomeManagerOptions, nixExtra ...string) []string {
	argv := append(Nix("run"), "--inputs-from", o.Flake)
	argv = append(argv, nixExtra...)
	argv = append(argv, "home-manager", "--")
	return append(argv, homeManagerArgs("switch", o)...)
}

func homeManagerArgs(sub string, o HomeManagerOptions) []string {
	args := []string{sub, "--flake", o.Flake + "#" + o.Attr}
	if o.BackupExt != "" {
		args = append(args, "-b", o.BackupExt)
	}
	return append(args, o.Extra...)
}

// ActivationInstallables lists FLAKE#homeConfigurations."ATTR".activationPackage
// for each attribute, for one `nix build` of several profiles.
func ActivationInstallables(flake string, attrs ...string) []string {
	out := make([]string, len(attrs))
	for i, a := range attrs {
		out[i] = Installable(flake, ActivationAttr(a)...)
	}
	return out
}

// DiffClosures is `nix store diff-closures OLD NEW`.
func DiffClosures(oldPath, newPath string) []string {
	return append(Nix("store", "diff-closures"), oldPath, newPath)
}

// PathInfoClosureSize is `nix path-info --json --closure-size PATH...`.
func PathInfoClosureSize(paths ...string) []string {
	return append(append(Nix("path-info"), "--json", "--closure-size"), paths...)
}

// ListGenerations is `nix-env --list-generations -p PROFILE`.
func ListGenerations(profile string) []string {
	return []string{"nix-env", "--list-generations", "-p", profile}
}

// SwitchGeneration is `nix-env -p PROFILE --switch-generation N`.
func SwitchGeneration(profile string, n int) []string {
	return []string{"nix-env", "-p", profile, "--switch-generation", strconv.Itoa(n)}
}

// CopyOptions describe `nix copy --to ssh://…` (or --from with From).
type CopyOptions struct {
	// From copies from the host into the local store instead.
	From bool
	// User and Address name the target store: ssh://USER@ADDRESS; Store,
	// when set, is the store URI itself.
	User, Address string
	Store         string
	// SSHOpts becomes NIX_SSHOPTS (port, identity, known_hosts, options).
	SSHOpts []string
	Paths   []string
}

// CopyToSSH is `nix copy --to ssh://USER@ADDRESS PATH...` and the environment
// it needs: NIX_SSHOPTS carries the ssh arguments (nix splits it on spaces,
// so callers must refuse arguments that contain whitespace).
func CopyToSSH(o CopyOptions) (argv, env []string) {
	addr := o.Address
	if strings.Contains(addr, ":") { // IPv6
		addr = "[" + addr + "]"
	}
	store := "ssh://" + addr
	if o.User != "" {
		store = "ssh://" + o.User + "@" + addr
	}
	if o.Store != "" {
		store = o.Store
	}
	dir := "--to"
	if o.From {
		dir = "--from"
	}
	argv = append(append(Nix("copy"), dir, store), o.Paths...)
	if len(o.SSHOpts) > 0 {
		env = []string{"NIX_SSHOPTS=" + strings.Join(o.SSHOpts, " ")}
	}
	return argv, env
}
