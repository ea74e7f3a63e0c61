package fakecmd

import (
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"

	"github.com/nixctl/nixctl/internal/nix"
)

// A table's flavour makes the fake parse its arguments as that
// nixos-rebuild does, and refuse what it does not know the way it does:
// the bash script (NixOS 25.05) exits 1 with "unknown option `X'";
// nixos-rebuild-ng (argparse) exits 2 with its usage text and
// "unrecognized arguments". Only ng has --sudo and --store-path.
const (
	FlavourBash = "bash"
	FlavourNG   = "ng"
)

// rebuildActions are the actions both flavours take.
var rebuildActions = []string{"switch", "boot", "test", "build", "dry-build", "dry-activate", "edit", "repl", "build-vm", "build-vm-with-bootloader", "list-generations"}

// rebuildFlags maps each flag to how many values follow it, for the bash
// script; ngOnly are the ones only ng has.
var (
	rebuildFlags = map[string]int{
		"--rollback": 0, "--upgrade": 0, "--upgrade-all": 0, "--use-substitutes": 0, "--substitute-on-destination": 0, "-s": 0,
		"--install-bootloader": 0, "--no-build-nix": 0, "--fast": 0, "--use-remote-sudo": 0, "--no-ssh-tty": 0, "--no-flake": 0,
		"--json": 0, "--show-trace": 0, "--impure": 0, "--refresh": 0, "--offline": 0, "--keep-going": 0, "-k": 0,
		"--keep-failed": 0, "-K": 0, "--fallback": 0, "--repair": 0, "--verbose": 0, "-v": 0, "--quiet": 0,
		"--print-build-logs": 0, "-L": 0, "--no-build-output": 0, "-Q": 0, "--accept-flake-config": 0,
		"--recreate-lock-file": 0, "--no-update-lock-file": 0, "--no-write-lock-file": 0, "--no-registries": 0, "--commit-lock-file": 0,
		"--flake": 1, "--target-host": 1, "--build-host": 1, "--profile-name": 1, "-p": 1, "--specialisation": 1, "-c": 1,
		"--image-variant": 1, "-I": 1, "--builders": 1, "--max-jobs": 1, "-j": 1, "--cores": 1, "--log-format": 1,
		"--update-input": 1, "--file": 1, "-f": 1, "--attr": 1, "-A": 1,
		"--option": 2, "--override-input": 2,
	}
	ngOnly = map[string]int{"--sudo": 0, "--ask-sudo-password": 0, "-S": 0, "--no-reexec": 0, "--store-path": 1}
)

// ngUsage is the usage line argparse prints, listing ng's flags.
func ngUsage() string {
	var b strings.Builder
	b.WriteString("usage: nixos-rebuild [-h]")
	flags := make([]string, 0, len(rebuildFlags)+len(ngOnly))
	for f := range rebuildFlags {
		flags = append(flags, f)
	}
	for f := range ngOnly {
		flags = append(flags, f)
	}
	slices.Sort(flags)
	for _, f := range flags {
		n := rebuildFlags[f] + ngOnly[f]
		meta := strings.Repeat(" "+strings.ToUpper(strings.ReplaceAll(strings.TrimLeft(f, "-"), "-", "_")), n)
		fmt.Fprintf(&b, " [%s%s]", f, meta)
	}
	b.WriteString(" {" + strings.Join(rebuildActions, ",") + "}\n")
	return b.String()
}

// refuseRebuildArgs answers as the flavour does when args hold something
// it does not know; ok is true when it takes them all.
func refuseRebuildArgs(flavour string, args []string) (exit int, stderr string, ok bool) {
	known := func(f string) (int, bool) {
		if n, ok := rebuildFlags[f]; ok {
			return n, true
		}
		n, ok := ngOnly[f]
		return n, ok && flavour == FlavourNG
	}
	var bad []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if n, ok := known(a); ok {
			i += n
			continue
		}
		if slices.Contains(rebuildActions, a) {
			continue
		}
		if flavour == FlavourBash {
			return 1, fmt.Sprintf("nixos-rebuild: unknown option `%s'\n", a), false
		}
		bad = append(bad, a)
	}
	if len(bad) > 0 {
		return 2, ngUsage() + "nixos-rebuild: error: unrecognized arguments: " + strings.Join(bad, " ") + "\n", false
	}
	return 0, "", true
}

// rebuildActivate does on the target what nixos-rebuild does last, over
// the system ssh with $NIX_SSHOPTS: switch and boot make the system the
// system profile's new generation, switch and test activate it (its
// bin/switch-to-configuration when it has one, then /run/current-system
// points at it, as NixOS's activation script does), --rollback goes back one generation of the profile and
// activates that. The system is --store-path's, or else what the flake
// gives now: the bash script builds it again, with the real nix.
func rebuildActivate(args []string) int {
	var action, system, flake, target string
	sudo, rollback := false, false
	for i := 0; i < len(args); i++ {
		switch a := args[i]; {
		case a == "--store-path" && i+1 < len(args):
			system, i = args[i+1], i+1
		case a == "--flake" && i+1 < len(args):
			flake, i = args[i+1], i+1
		case a == "--target-host" && i+1 < len(args):
			target, i = args[i+1], i+1
		case a == "--sudo" || a == "--use-remote-sudo":
			sudo = true
		case a == "--rollback":
			rollback = true
		case action == "" && slices.Contains(rebuildActions, a):
			action = a
		}
	}
	if action != "switch" && action != "test" && action != "boot" || target == "" {
		fmt.Fprintf(os.Stderr, "fake nixos-rebuild: activate needs switch, test or boot and --target-host: %q\n", args)
		return 1
	}
	if system == "" && !rollback {
		dir, attr, ok := strings.Cut(flake, "#")
		if !ok {
			fmt.Fprintln(os.Stderr, "fake nixos-rebuild: activate needs --store-path or --flake DIR#ATTR")
			return 1
		}
		argv := nix.Build([]string{nix.Installable(dir, nix.ToplevelAttr(attr)...)})
		out, err := exec.Command(argv[0], argv[1:]...).Output()
		res, perr := nix.ParseBuildResults(out)
		if err != nil || perr != nil || len(res) != 1 {
			fmt.Fprintf(os.Stderr, "fake nixos-rebuild: building %s: %v %v\n", flake, err, perr)
			return 1
		}
		system = res[0].Out()
	}
	op := action
	if rollback {
		op = "rollback"
	}
	argv := append([]string{"ssh"}, strings.Fields(os.Getenv("NIX_SSHOPTS"))...)
	argv = append(argv, target, "--")
	if sudo {
		argv = append(argv, "sudo", "-n")
	}
	argv = append(argv, "sh", "-c", "'"+activateScript+"'", "activate", op, action, system)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "fake nixos-rebuild: %s on %s: %v\n", op, target, err)
		return 1
	}
	return 0
}

// activateScript runs on the target: $1 what to do to the profile (switch,
// boot, test, rollback), $2 the action, $3 the system.
const activateScript = `set -e
p=/nix/var/nix/profiles/system s=$3
case $1 in
switch|boot) nix-env -p $p --set "$s" ;;
rollback) nix-env -p $p --rollback >/dev/null; s=$(readlink -f $p) ;;
esac
echo "activating the configuration... $s" >&2
[ "$2" = boot ] && exit 0
if [ -x "$s/bin/switch-to-configuration" ]; then "$s/bin/switch-to-configuration" "$2"; fi
ln -sfn "$s" /run/current-system`
