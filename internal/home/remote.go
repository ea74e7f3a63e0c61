package home

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/nixctl/nixctl/internal/exitcode"
	"github.com/nixctl/nixctl/internal/inventory"
	"github.com/nixctl/nixctl/internal/remote"
)

// LockWait is how long an activation waits for the host's lock: profiles
// of one host switched together take turns.
const LockWait = 5 * time.Minute

// Exit codes of the remote scripts below, chosen to be told apart from the
// activation's own failures.
const (
	exitNoNix  = 69 // EX_UNAVAILABLE: no /nix/store on the host
	exitLocked = 75 // EX_TEMPFAIL: another nixctl run holds the host's lock
	exitNoGen  = 66 // EX_NOINPUT: the generation did not arrive
)

// preflightScript checks that the host can take a generation. It is a
// constant: nothing from the inventory goes into it.
const preflightScript = `test -d /nix/store || { echo "no /nix/store on this host" >&2; exit 69; }`

// SSH reaches remote profiles' hosts with internal/remote.
//
// The host's lock is an flock(1) on the directory /run/lock/nixctl (a
// directory, so that every user can open it: a lock file made by one user
// cannot be opened with O_CREAT by another in a sticky directory when
// fs.protected_regular is on), held for the whole activation, so another home switch on the same host waits its turn (up to
// LockWait); the kernel drops it when the activation ends, however it ends.
type SSH struct {
	Dialer *remote.Dialer
	Fleet  *inventory.Fleet
	// DryRun prints the ssh commands to Out instead of running them.
	DryRun bool
	Out    io.Writer
}

func (s *SSH) target(h inventory.Host, user string) remote.Target {
	return remote.Target{User: user, Address: h.Address, Port: h.Port, Identity: h.Identity}
}

// SSHOpts gives the system ssh (through NIX_SSHOPTS) what Dial uses: the
// host's sshOptions, port, identity and the known_hosts file. OpenSSH reads
// ~/.ssh from the password database, not $HOME, so the identity and
// known_hosts are named explicitly.
func (s *SSH) SSHOpts(h inventory.Host) ([]string, error) {
	t := s.target(h, h.User)
	if t.Identity == "" {
		t.Identity = firstExisting(s.Dialer.IdentityFiles)
	} else if strings.HasPrefix(t.Identity, "~/") {
		t.Identity = s.Dialer.Home + t.Identity[1:]
	}
	var known []string
	if k := firstExisting(s.Dialer.KnownHostsFiles); k != "" && k != "/etc/ssh/ssh_known_hosts" {
		known = []string{k}
	}
	args := remote.SSHArgs(t, h.SSHOptions, known)
	for _, a := range args {
		if strings.ContainsAny(a, " \t\n") {
			return nil, exitcode.Newf(exitcode.Inventory, "nix splits NIX_SSHOPTS on spaces: use paths and options without them",
				"host %s: ssh argument %q contains whitespace", h.Name, a)
		}
	}
	return args, nil
}

func firstExisting(paths []string) string {
	for _, p := range paths {
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			return p
		}
	}
	return ""
}

// Open dials host as user and runs the preflight.
func (s *SSH) Open(ctx context.Context, h inventory.Host, user string) (Session, error) {
	t := s.target(h, user)
	if s.DryRun {
		return &dryRunSession{s: s, t: t, host: h}, nil
	}
	c, err := s.Dialer.Dial(ctx, t)
	if err != nil {
		return nil, err
	}
	res, err := c.Run(ctx, preflightScript, nil)
	if err != nil {
		c.Close()
		if res != nil && res.ExitCode == exitNoNix {
			return nil, exitcode.Newf(exitcode.Failure, "install Nix on "+h.Name+" (NixOS has it)", "preflight on %s: no /nix/store", h.Name)
		}
		return nil, fmt.Errorf("preflight on %s: %w", h.Name, err)
	}
	return &sshSession{c: c, host: h, user: user}, nil
}

// activateScript runs generation/activate under the host's lock.
func activateScript(generation string) string {
	gen := remote.ShellQuote(generation)
	act := remote.ShellQuote(generation + "/activate")
	return fmt.Sprintf(`test -x %s || { echo "nixctl: %s/activate is missing on this host" >&2; exit %d; }; `+
		`lock=/run/lock; [ -d "$lock" ] && [ -w "$lock" ] || lock=/tmp; mkdir -p "$lock/nixctl" 2>/dev/null; `+
		`exec flock -w %d -E %d "$lock/nixctl" %s`, act, gen, exitNoGen, int(LockWait.Seconds()), exitLocked, act)
}

type sshSession struct {
	c    *remote.Client
	host inventory.Host
	user string
}

func (s *sshSession) Activate(ctx context.Context, generation string, out io.Writer) error {
	if !strings.HasPrefix(generation, "/nix/store/") || strings.ContainsAny(generation, "\n") {
		return fmt.Errorf("refusing to activate %q: not a store path", generation)
	}
	_, err := s.c.Stream(ctx, activateScript(generation), nil, out, out)
	var ee *remote.ExitError
	if errors.As(err, &ee) {
		switch ee.ExitCode {
		case exitLocked:
			return exitcode.Newf(exitcode.Failure, "another nixctl run is working on "+s.host.Name+": wait for it and try again",
				"%s stayed locked for %s", s.host.Name, LockWait)
		case exitNoGen:
			return exitcode.Newf(exitcode.Failure, "nix copy did not bring the generation: check the copy's output above",
				"the generation is missing on %s", s.host.Name)
		}
		return exitcode.Newf(exitcode.Failure, "see the activation's output above", "activation on %s as %s failed (exit %d): %s",
			s.host.Name, s.user, ee.ExitCode, lastLine(ee.StderrTail))
	}
	return err
}

func (s *sshSession) Close() error { return s.c.Close() }

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// dryRunSession prints what would run over SSH.
type dryRunSession struct {
	s    *SSH
	t    remote.Target
	host inventory.Host
}

func (d *dryRunSession) Activate(ctx context.Context, generation string, out io.Writer) error {
	args := remote.SSHArgs(d.t, nil, nil)
	line := "ssh " + remote.ShellJoin(args...)
	if len(args) > 0 {
		line += " "
	}
	fmt.Fprintf(d.s.Out, "%s%s %s\n", line, remote.ShellQuote(d.t.User+"@"+d.t.Address), remote.ShellQuote(activateScript(generation)))
	return nil
}

func (d *dryRunSession) Close() error { return nil }
