// Package doctor inspects the machine and the repository for what nixctl
// needs: nix and flakes, the inventory, nixos-rebuild and home-manager, an
// age key for secrets, SSH credentials. Each finding carries a hint.
package doctor

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/nixctl/nixctl/internal/execx"
	"github.com/nixctl/nixctl/internal/inventory"
	"github.com/nixctl/nixctl/internal/nix"
	"github.com/nixctl/nixctl/internal/remote"
	"github.com/nixctl/nixctl/internal/secrets"
)

// Status of one finding.
const (
	OK   = "ok"
	Warn = "warn" // nixctl works, but a feature is limited
	Fail = "fail" // nixctl cannot do its main job
)

// Finding is one line of the doctor's table.
type Finding struct {
	// Host is the inventory host the finding is about; "" for this machine.
	Host   string `json:"host,omitempty"`
	Name   string `json:"name"`
	Status string `json:"status"`
	Detail string `json:"detail"`
	Hint   string `json:"hint,omitempty"`
}

// Env is what the doctor looks at.
type Env struct {
	Runner execx.Runner
	Home   string
	// Keys are the places sops reads age keys from, for the age key and
	// secrets findings.
	Keys secrets.Env
	// SSHAuthSock is $SSH_AUTH_SOCK.
	SSHAuthSock string
	// Fleet is the loaded inventory, or nil with FleetErr saying why.
	Fleet    *inventory.Fleet
	FleetErr error
	// Hosts are looked at over SSH through Connector, Parallel at once.
	Hosts     []Host
	Connector remote.Connector
	Parallel  int
}

// Run makes every finding, in a fixed order.
func Run(ctx context.Context, e Env) []Finding {
	var out []Finding
	out = append(out, nixFindings(ctx, e)...)
	out = append(out, inventoryFinding(e))
	if e.Fleet != nil {
		out = append(out, flakeFinding(e.Fleet))
	}
	out = append(out, toolFinding(e, "git", Warn, "flakes in a git repository see only tracked files; install git to work with them", "git"))
	hasHosts := e.Fleet != nil && len(e.Fleet.Hosts) > 0
	var flavour nix.Flavour
	if hasHosts || e.Fleet == nil {
		var f Finding
		f, flavour = rebuildFinding(ctx, e.Runner)
		out = append(out, f)
	}
	out = append(out, homeManagerFinding(e))
	out = append(out, ageKeyFinding(e))
	if e.Fleet != nil {
		if f, ok := secretsFinding(ctx, e); ok {
			out = append(out, f)
		}
	}
	out = append(out, sshFinding(e))
	if len(e.Hosts) > 0 {
		out = append(out, hostFindings(ctx, e, flavour)...)
	}
	return out
}

// flakeFinding: an inventory without its flake.nix is a fleet nix cannot
// evaluate, however valid nixctl.yaml is.
func flakeFinding(f *inventory.Fleet) Finding {
	dir := f.Flake
	if dir == "" || !filepath.IsAbs(dir) {
		if dir != "" { // a remote flake reference: nothing to look at here
			return Finding{Name: "flake", Status: OK, Detail: dir}
		}
		dir = f.Dir
	}
	path := filepath.Join(dir, "flake.nix")
	if st, err := os.Stat(path); err == nil && st.Mode().IsRegular() {
		return Finding{Name: "flake", Status: OK, Detail: path}
	}
	return Finding{Name: "flake", Status: Fail, Detail: "no flake.nix in " + dir,
		Hint: "nixctl.yaml belongs beside the fleet's flake.nix: move it there, or point --flake (NIXCTL_FLAKE) at the flake; 'nixctl init' writes a new fleet"}
}

// rebuildFinding looks for nixos-rebuild here and tells its flavour, by how
// it refuses a flag it does not know; the flavour is "" when there is none.
func rebuildFinding(ctx context.Context, r execx.Runner) (Finding, nix.Flavour) {
	path, err := r.LookPath("nixos-rebuild")
	if err != nil {
		return Finding{Name: "nixos-rebuild", Status: Warn, Detail: "not found on PATH",
			Hint: "deploy runs nixos-rebuild: on NixOS it is there; elsewhere 'nix profile install nixpkgs#nixos-rebuild'"}, ""
	}
	res, _ := r.Run(ctx, execx.Cmd{Argv: nix.RebuildProbe(), ReadOnly: true})
	if res == nil {
		return Finding{Name: "nixos-rebuild", Status: Warn, Detail: path + ": could not run it", Hint: "run 'nixos-rebuild --help' to see what is wrong"}, ""
	}
	flavour, ok := nix.ParseProbe(res.ExitCode, string(res.Stderr))
	if !ok {
		return Finding{Name: "nixos-rebuild", Status: Warn, Detail: path + ": neither the bash nor the ng flavour answered",
			Hint: "set rebuild: bash or rebuild: ng under defaults: in nixctl.yaml"}, ""
	}
	what := string(flavour)
	if nix.ProbeHasStorePath(res.ExitCode, string(res.Stderr)) {
		// deploy then activates the system it built, evaluating nothing again.
		what += ", with --store-path"
	}
	return Finding{Name: "nixos-rebuild", Status: OK, Detail: fmt.Sprintf("%s (%s)", path, what)}, flavour
}

// Failed reports whether any finding is a failure.
func Failed(fs []Finding) bool {
	for _, f := range fs {
		if f.Status == Fail {
			return true
		}
	}
	return false
}

func nixFindings(ctx context.Context, e Env) []Finding {
	if _, err := e.Runner.LookPath("nix"); err != nil {
		return []Finding{{Name: "nix", Status: Fail, Detail: "not found on PATH",
			Hint: "install Nix: https://nixos.org/download (Debian: apt-get install nix-bin)"}}
	}
	res, err := e.Runner.Run(ctx, execx.Cmd{Argv: nix.Version(), ReadOnly: true})
	if err != nil {
		return []Finding{{Name: "nix", Status: Fail, Detail: err.Error(), Hint: "run 'nix --version' to see what is wrong"}}
	}
	version := strings.TrimSpace(string(res.Stdout))
	found := []Finding{{Name: "nix", Status: OK, Detail: version}}
	// The text form: nix 2.8's --json encodes features as numbers.
	res, err = e.Runner.Run(ctx, execx.Cmd{Argv: []string{"nix", "--extra-experimental-features", "nix-command", "show-config"}, ReadOnly: true})
	if err != nil {
		return append(found, Finding{Name: "flakes", Status: Warn, Detail: "could not read nix's configuration", Hint: "nixctl enables flakes for its own nix calls; enable them for yours too"})
	}
	features := ExperimentalFeatures(string(res.Stdout))
	has := func(f string) bool { return slices.Contains(features, f) }
	if has("flakes") && has("nix-command") {
		return append(found, Finding{Name: "flakes", Status: OK, Detail: "nix-command and flakes enabled"})
	}
	return append(found, Finding{Name: "flakes", Status: Warn, Detail: "not enabled in nix.conf (nixctl enables them for its own calls)",
		Hint: "add 'experimental-features = nix-command flakes' to ~/.config/nix/nix.conf or /etc/nix/nix.conf, so nixos-rebuild and home-manager get them too"})
}

// ExperimentalFeatures reads the experimental-features line of nix show-config.
func ExperimentalFeatures(config string) []string {
	for _, line := range strings.Split(config, "\n") {
		k, v, ok := strings.Cut(line, "=")
		if ok && strings.TrimSpace(k) == "experimental-features" {
			return strings.Fields(v)
		}
	}
	return nil
}

func inventoryFinding(e Env) Finding {
	if e.FleetErr != nil {
		msg := e.FleetErr.Error()
		if i := strings.IndexByte(msg, '\n'); i > 0 {
			msg = msg[:i]
		}
		return Finding{Name: "inventory", Status: Fail, Detail: msg, Hint: "run 'nixctl inventory check' for every problem, or 'nixctl init' to start a fleet"}
	}
	f := e.Fleet
	return Finding{Name: "inventory", Status: OK, Detail: filepath.Base(f.File) + " in " + f.Dir + ": " + plural(len(f.Hosts), "host") + ", " + plural(len(f.Profiles), "profile")}
}

func toolFinding(e Env, name, missing, hint, bin string) Finding {
	if p, err := e.Runner.LookPath(bin); err == nil {
		return Finding{Name: name, Status: OK, Detail: p}
	}
	return Finding{Name: name, Status: missing, Detail: "not found on PATH", Hint: hint}
}

func homeManagerFinding(e Env) Finding {
	if p, err := e.Runner.LookPath("home-manager"); err == nil {
		return Finding{Name: "home-manager", Status: OK, Detail: p}
	}
	return Finding{Name: "home-manager", Status: OK, Detail: "not on PATH: nixctl runs the repository's pinned one (nix run --inputs-from <flake> home-manager)"}
}

// ageKeyFinding follows sops's lookup: SOPS_AGE_KEY, SOPS_AGE_KEY_FILE,
// then $XDG_CONFIG_HOME/sops/age/keys.txt (~/.config by default).
func ageKeyFinding(e Env) Finding {
	if e.Keys.AgeKey != "" {
		return Finding{Name: "age key", Status: OK, Detail: "SOPS_AGE_KEY is set"}
	}
	path := e.Keys.AgeKeyFile
	if path == "" {
		cfg := e.Keys.ConfigHome
		if cfg == "" {
			cfg = filepath.Join(e.Home, ".config")
		}
		path = filepath.Join(cfg, "sops", "age", "keys.txt")
	}
	if st, err := os.Stat(path); err == nil && st.Mode().IsRegular() {
		return Finding{Name: "age key", Status: OK, Detail: path}
	}
	return Finding{Name: "age key", Status: Warn, Detail: "none at " + path, Hint: "create one with 'nixctl secrets init' (secrets cannot be read or edited without it)"}
}

func sshFinding(e Env) Finding {
	if sock := e.SSHAuthSock; sock != "" {
		if st, err := os.Stat(sock); err == nil && st.Mode()&os.ModeSocket != 0 {
			return Finding{Name: "ssh", Status: OK, Detail: "agent at " + sock}
		}
	}
	var keys []string
	for _, k := range []string{"id_ed25519", "id_ecdsa", "id_rsa"} {
		if _, err := os.Stat(filepath.Join(e.Home, ".ssh", k)); err == nil {
			keys = append(keys, "~/.ssh/"+k)
		}
	}
	if len(keys) > 0 {
		return Finding{Name: "ssh", Status: OK, Detail: "keys " + strings.Join(keys, ", ")}
	}
	if e.Fleet != nil {
		for _, h := range e.Fleet.Hosts {
			if h.Identity != "" {
				return Finding{Name: "ssh", Status: OK, Detail: "identity " + h.Identity + " from the inventory"}
			}
		}
	}
	return Finding{Name: "ssh", Status: Warn, Detail: "no agent and no key in ~/.ssh", Hint: "start ssh-agent and ssh-add a key, or set identity: in nixctl.yaml (deploy and remote profiles need it)"}
}

func plural(n int, s string) string {
	if n == 1 {
		return "1 " + s
	}
	return strconv.Itoa(n) + " " + s + "s"
}
