package doctor

import (
	"bufio"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/nixctl/nixctl/internal/execx"
	"github.com/nixctl/nixctl/internal/inventory"
	"github.com/nixctl/nixctl/internal/nix"
	"github.com/nixctl/nixctl/internal/parallel"
	"github.com/nixctl/nixctl/internal/remote"
)

// hostScript looks at a host without changing it; see its header for the
// arguments and what it prints.
//
//go:embed host.sh
var hostScript string

// Host is one host to look at, reached exactly as deploy reaches it.
type Host struct {
	Host  inventory.Host
	Route remote.Route
	// Elevate: the host's user is not root, so activation needs sudo.
	Elevate bool
	// Err is why nixctl cannot even make a route to the host (a bad
	// sshOptions entry, for example).
	Err error
}

// Free space on /nix below which a deploy may fail (a NixOS closure with a
// new kernel is a few GiB).
const (
	freeFailKiB = 1 << 20 // 1 GiB
	freeWarnKiB = 5 << 20 // 5 GiB
)

// hostFindings looks at each of e.Hosts, e.Parallel at once, and returns
// their findings in the order of the hosts. local is the flavour of this
// machine's nixos-rebuild (the one deploy runs; "" when there is none): a
// host's rebuild: setting is compared with it.
func hostFindings(ctx context.Context, e Env, local nix.Flavour) []Finding {
	per := make([][]Finding, len(e.Hosts))
	parallel.Each(len(e.Hosts), e.Parallel, func(i int) {
		per[i] = checkHost(ctx, e.Connector, e.Hosts[i], local)
	})
	var out []Finding
	for _, fs := range per {
		out = append(out, fs...)
	}
	return out
}

func checkHost(ctx context.Context, c remote.Connector, h Host, local nix.Flavour) []Finding {
	name := h.Host.Name
	f := func(check, status, detail, hint string) Finding {
		return Finding{Host: name, Name: check, Status: status, Detail: detail, Hint: hint}
	}
	if h.Err != nil {
		return []Finding{f("ssh", Fail, h.Err.Error(), hintOf(h.Err, "fix the host's address, port, identity or sshOptions in nixctl.yaml"))}
	}
	if ctx.Err() != nil {
		return []Finding{f("ssh", Fail, "not checked: interrupted", "")}
	}
	s, err := c.Connect(ctx, h.Route)
	var hk *remote.HostKeyError
	var ce *remote.ConnectError
	switch {
	case errors.As(err, &hk):
		// The handshake got as far as the host key: the host answers.
		return []Finding{
			f("ssh", OK, "reachable at "+h.Route.String(), ""),
			f("host key", Fail, hk.Error(), hk.Hint()),
		}
	case errors.As(err, &ce) && ce.Stage == "authenticate":
		return []Finding{
			f("ssh", Fail, ce.Error(), ce.Hint()),
			f("host key", OK, "matches known_hosts", ""),
		}
	case err != nil:
		return []Finding{f("ssh", Fail, err.Error(), hintOf(err, ""))}
	}
	defer s.Close()
	out := []Finding{
		f("ssh", OK, "reachable as "+h.Route.String(), ""),
		f("host key", OK, "matches known_hosts", ""),
	}
	sudo := "nosudo"
	if h.Host.Sudo || h.Elevate {
		sudo = "sudo"
	}
	res, err := s.Run(ctx, execx.Quote([]string{"sh", "-c", hostScript, "nixctl-doctor", sudo, nix.ProbeFlag}), nil)
	if err != nil {
		return append(out, f("checks", Fail, "running the checks on the host: "+err.Error(), hintOf(err, "")))
	}
	facts := parseFacts(string(res.Stdout))

	if facts.get("nix") == "" {
		out = append(out, f("nix", Fail, "not on the PATH of "+h.Route.String(), "is this a NixOS host? nixos-rebuild needs nix on the target"))
	} else {
		out = append(out, f("nix", OK, facts.get("nix_version"), ""))
	}
	out = append(out, sudoFinding(h, facts, f))
	out = append(out, rebuildHostFinding(h, facts, local, f))
	out = append(out, freeFinding(facts, f))
	return out
}

func sudoFinding(h Host, facts facts, f func(check, status, detail, hint string) Finding) Finding {
	user := h.Route.User
	switch {
	case h.Elevate && !h.Host.Sudo:
		return f("sudo", Fail, fmt.Sprintf("user %s is not root and sudo is off", user),
			"set sudo: true for this host in nixctl.yaml (activation needs root), or deploy as root")
	case facts.get("sudo") == "ok":
		return f("sudo", OK, "sudo -n works for "+user, "")
	case facts.get("sudo") == "fail":
		detail := "sudo -n true failed for " + user
		if msg := facts.get("sudo_error"); msg != "" {
			detail += ": " + msg
		}
		return f("sudo", Fail, detail,
			fmt.Sprintf("let %s run sudo without a password on the host (security.sudo.wheelNeedsPassword = false, or a NOPASSWD rule)", user))
	}
	return f("sudo", OK, "not needed: nixctl logs in as root", "")
}

func rebuildHostFinding(h Host, facts facts, local nix.Flavour, f func(check, status, detail, hint string) Finding) Finding {
	want := h.Host.Rebuild
	if (want == "bash" || want == "ng") && local != "" && nix.Flavour(want) != local {
		return f("nixos-rebuild", Warn, fmt.Sprintf("rebuild: %s in nixctl.yaml, but the nixos-rebuild that deploys from here is %s", want, local),
			"remove rebuild: (nixctl detects the flavour) or set it to "+string(local))
	}
	path := facts.get("rebuild")
	if path == "" {
		return f("nixos-rebuild", OK, "none on the host: deploy runs this machine's with --target-host", "")
	}
	code, _ := strconv.Atoi(facts.get("rebuild_exit"))
	flavour, ok := nix.ParseProbe(code, strings.Join(facts.all("rebuild_output"), "\n"))
	if !ok {
		return f("nixos-rebuild", Warn, path+": neither the bash nor the ng flavour answered", "set rebuild: bash or rebuild: ng for this host in nixctl.yaml")
	}
	return f("nixos-rebuild", OK, fmt.Sprintf("%s (%s)", path, flavour), "")
}

func freeFinding(facts facts, f func(check, status, detail, hint string) Finding) Finding {
	kib, err := strconv.ParseInt(facts.get("nix_free_kib"), 10, 64)
	if err != nil {
		return f("/nix free", Warn, "df could not measure /nix", "run 'df -h /nix' on the host")
	}
	detail := formatKiB(kib) + " available"
	hint := "free space on the host: nix-collect-garbage --delete-older-than 30d (with sudo for the system profile's generations)"
	switch {
	case kib < freeFailKiB:
		return f("/nix free", Fail, detail, hint)
	case kib < freeWarnKiB:
		return f("/nix free", Warn, detail, hint)
	}
	return f("/nix free", OK, detail, "")
}

func formatKiB(kib int64) string {
	const gib = 1 << 20
	if kib >= gib {
		return strconv.FormatFloat(float64(kib)/gib, 'f', 1, 64) + " GiB"
	}
	return strconv.FormatFloat(float64(kib)/1024, 'f', 0, 64) + " MiB"
}

// facts are the key=value lines host.sh prints; a key may repeat.
type facts map[string][]string

func parseFacts(s string) facts {
	out := facts{}
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			out[k] = append(out[k], v)
		}
	}
	return out
}

func (f facts) get(k string) string {
	if v := f[k]; len(v) > 0 {
		return v[0]
	}
	return ""
}

func (f facts) all(k string) []string { return f[k] }

// hintOf is the hint an error carries (remote's errors say what to try), or
// fallback.
func hintOf(err error, fallback string) string {
	var h interface{ Hint() string }
	if errors.As(err, &h) && h.Hint() != "" {
		return h.Hint()
	}
	return fallback
}
