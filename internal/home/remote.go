package home

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/nixctl/nixctl/internal/exitcode"
	"github.com/nixctl/nixctl/internal/inventory"
	"github.com/nixctl/nixctl/internal/nix"
	"github.com/nixctl/nixctl/internal/remote"
)

// LockWait is how long an activation waits for the host's lock: profiles
// of one host switched together take turns.
const LockWait = 5 * time.Minute

// Exit codes of the remote scripts below, chosen to be told apart from the
// activation's own failures.
const (
	exitNoNix    = 69 // EX_UNAVAILABLE: nix is not on the user's PATH
	exitLocked   = 75 // EX_TEMPFAIL: another nixctl run holds the host's lock
	exitNoGen    = 66 // EX_NOINPUT: the generation did not arrive, or no generations
	exitRestored = 70 // EX_SOFTWARE: activation failed, previous generation restored
	exitDeploy   = 73 // a deploy holds the host (deploy's lock directory exists)
)

// deployLock is where nixctl deploy keeps its lock on a host (see
// internal/deploy/lock.go; home cannot import deploy, which sits above it).
// NIXCTL_TESTONLY_ROOT is deploy's test hook for that path, reused here.
const deployLock = "${NIXCTL_TESTONLY_ROOT:-}/var/lib/nixctl/deploy.lock"

// The remote scripts are constants or built from validated store paths and
// numbers only; nothing else from the inventory goes into them.
const (
	preflightScript = `command -v nix >/dev/null || { echo "nix is not on the PATH of $USER" >&2; exit 69; }`
	// profileScript sets $p to the home-manager profile the way Home
	// Manager 25.05 finds it (see ProfilePath).
	profileScript = `s="${XDG_STATE_HOME:-$HOME/.local/state}/nix/profiles"; ` +
		`if [ -d "$s" ]; then p="$s/home-manager"; else p="/nix/var/nix/profiles/per-user/$USER/home-manager"; fi`
	generationsScript = profileScript + `; echo "$p"; [ -e "$p" ] || exit 66; ` +
		`nix-env --list-generations -p "$p" || exit 1; echo --; ` +
		`for l in "$p"-*-link; do [ -e "$l" ] && printf '%s %s\n' "${l#"$p"-}" "$(readlink -f "$l")"; done; exit 0`
)

// locked runs script with sh under the host's home lock, unless a deploy
// holds the host: then it prints the deploy's lock record and exits.
//
// The home lock is taken first and deploy's looked at under it; deploy takes
// its own lock, then looks at this one (internal/deploy/lock.go): whatever
// the timing, the two never run at once. Both honour deploy's
// NIXCTL_TESTONLY_ROOT test hook, so parallel tests keep apart.
func locked(script string) string {
	underLock := fmt.Sprintf(`dl="%s"; if [ -e "$dl" ]; then { cat "$dl/info"; echo; } >&2 2>/dev/null; exit %d; fi; %s`, deployLock, exitDeploy, script)
	return fmt.Sprintf(`lock="${NIXCTL_TESTONLY_ROOT:-}/run/lock"; [ -d "$lock" ] && [ -w "$lock" ] || lock="${NIXCTL_TESTONLY_ROOT:-}/tmp"; mkdir -p "$lock/nixctl" 2>/dev/null; `+
		`exec flock -w %d -E %d "$lock/nixctl" sh -c %s`, int(LockWait.Seconds()), exitLocked, remote.ShellQuote(underLock))
}

// activateScript runs generation/activate under the host's lock, with
// backupExt where home-manager -b puts it (HOME_MANAGER_BACKUP_EXT).
func activateScript(generation, backupExt string) string {
	act := remote.ShellQuote(generation + "/activate")
	env := ""
	if backupExt != "" {
		env = "HOME_MANAGER_BACKUP_EXT=" + remote.ShellQuote(backupExt) + " "
	}
	return locked(fmt.Sprintf(`test -x %s || { echo "nixctl: %s is missing on this host" >&2; exit %d; }; %sexec %s`, act, act, exitNoGen, env, act))
}

// clobbersScript is FindClobbers in sh, run as the profile's user on the
// host: "C FILE" for a file in the way, "B FILE" for one whose backup
// FILE.EXT exists already.
func clobbersScript(generation, backupExt string) string {
	return `cd ` + remote.ShellQuote(generation+"/home-files") + ` 2>/dev/null || exit 0
ext=` + remote.ShellQuote(backupExt) + `
find . \( -type f -o -type l \) -print | while IFS= read -r f; do
  t="$HOME/${f#./}"
  [ -e "$t" ] || [ -L "$t" ] || continue
  if [ -L "$t" ]; then case "$(readlink "$t")" in /nix/store/*-home-manager-files/*) continue;; esac; fi
  cmp -s "$f" "$t" && continue
  if [ ! -L "$t" ] && [ -n "$ext" ]; then [ -e "$t.$ext" ] && printf 'B %s\n' "$t"; continue; fi
  printf 'C %s\n' "$t"
done`
}

// rollbackScript makes generation target current and activates it; a failed
// activation switches back to cur.
func rollbackScript(cur, target int) string {
	return locked(fmt.Sprintf(`%s; nix-env -p "$p" --switch-generation %d || exit 1; `+
		`if ! "$p-%d-link/activate"; then nix-env -p "$p" --switch-generation %d; exit %d; fi`,
		profileScript, target, target, cur, exitRestored))
}

// SSH reaches remote profiles' hosts with internal/remote.
//
// The host's lock is an flock(1) on the directory /run/lock/nixctl (a
// directory, so that every user can open it: a lock file made by one user
// cannot be opened with O_CREAT by another in a sticky directory when
// fs.protected_regular is on), held for the whole activation, so another home switch on the same host waits its turn (up to
// LockWait); the kernel drops it when the activation ends, however it ends.
type SSH struct {
	SSH   Reacher
	Fleet *inventory.Fleet
	// DryRun prints the ssh commands to Out instead of running them.
	DryRun bool
	Out    io.Writer
}

// Reacher resolves inventory hosts and connects to them (*remote.SSH).
type Reacher interface {
	remote.Router
	Dial(ctx context.Context, r remote.Route) (*remote.Client, error)
}

// NixStore is the host's store as nix copy reaches it, as the host's own
// user (copying needs a trusted user): the route's destination and options.
func (s *SSH) NixStore(h inventory.Host) (string, []string, error) {
	r, err := s.SSH.HostRoute(s.Fleet.Dir, &h, "")
	if err != nil {
		return "", nil, exitcode.New(exitcode.Inventory, err, exitcode.HintOf(err))
	}
	opts, err := r.NixSSHOpts()
	if err != nil {
		return "", nil, exitcode.New(exitcode.Inventory, fmt.Errorf("host %s: %w", h.Name, err), exitcode.HintOf(err))
	}
	return r.StoreURI(), strings.Fields(opts), nil
}

// Open dials host as user and runs the preflight.
func (s *SSH) Open(ctx context.Context, h inventory.Host, user string) (Session, error) {
	t, err := s.SSH.HostRoute(s.Fleet.Dir, &h, user)
	if err != nil {
		return nil, exitcode.New(exitcode.Inventory, err, exitcode.HintOf(err))
	}
	if s.DryRun {
		return &session{host: h, user: user, run: s.printer(t)}, nil
	}
	c, err := s.SSH.Dial(ctx, t)
	if err != nil {
		return nil, err
	}
	sess := &session{host: h, user: user, run: func(ctx context.Context, script string, out io.Writer) (string, error) {
		var stdout strings.Builder
		w := io.Writer(&stdout)
		if out != nil {
			w = io.MultiWriter(&stdout, out)
		}
		_, err := c.Stream(ctx, script, nil, w, out)
		return stdout.String(), err
	}, close: c.Close}
	if _, err := sess.run(ctx, preflightScript, nil); err != nil {
		c.Close()
		var ee *remote.ExitError
		if errors.As(err, &ee) && ee.ExitCode == exitNoNix {
			return nil, exitcode.Newf(exitcode.Failure, "install Nix on "+h.Name+", or put it on "+user+"'s PATH (NixOS has it)",
				"preflight on %s: nix is not on the PATH of %s", h.Name, t)
		}
		return nil, fmt.Errorf("preflight on %s: %w", h.Name, err)
	}
	return sess, nil
}

// printer is dry-run's stand-in for running a script: it prints the ssh
// command line that would run it.
func (s *SSH) printer(t remote.Route) func(context.Context, string, io.Writer) (string, error) {
	return func(_ context.Context, script string, _ io.Writer) (string, error) {
		fmt.Fprintln(s.Out, remote.ShellJoin(t.Command(script)...))
		return "", nil
	}
}

// session runs scripts on a host as the profile's user.
type session struct {
	host  inventory.Host
	user  string
	run   func(ctx context.Context, script string, out io.Writer) (string, error)
	close func() error
}

func (s *session) Close() error {
	if s.close == nil {
		return nil
	}
	return s.close()
}

func checkStorePath(generation string) error {
	if !strings.HasPrefix(generation, "/nix/store/") || strings.ContainsAny(generation, "\n") {
		return fmt.Errorf("refusing to activate %q: not a store path", generation)
	}
	return nil
}

func (s *session) Clobbers(ctx context.Context, generation, backupExt string) ([]Clobber, error) {
	if err := checkStorePath(generation); err != nil {
		return nil, err
	}
	out, err := s.run(ctx, clobbersScript(generation, backupExt), nil)
	if err != nil {
		return nil, fmt.Errorf("looking for files in the way on %s: %w", s.host.Name, err)
	}
	var files []Clobber
	for _, l := range strings.Split(out, "\n") {
		switch kind, path, _ := strings.Cut(l, " "); kind {
		case "C":
			files = append(files, Clobber{Path: path})
		case "B":
			files = append(files, Clobber{Path: path, Backup: path + "." + backupExt})
		}
	}
	return files, nil
}

func (s *session) Activate(ctx context.Context, generation, backupExt string, out io.Writer) error {
	if err := checkStorePath(generation); err != nil {
		return err
	}
	_, err := s.run(ctx, activateScript(generation, backupExt), out)
	return s.explain(err, "activation", "nix copy did not bring the generation: check the copy's output above")
}

// Generations lists the profile's generations on the host.
func (s *session) Generations(ctx context.Context) (string, []Generation, error) {
	out, err := s.run(ctx, generationsScript, nil)
	if err != nil {
		var ee *remote.ExitError
		if errors.As(err, &ee) && ee.ExitCode == exitNoGen {
			return "", nil, exitcode.New(exitcode.Failure, fmt.Errorf("%s on %s: %w", s.user, s.host.Name, ErrNoGenerations), "switch the profile first: nixctl home switch")
		}
		return "", nil, fmt.Errorf("listing generations on %s: %w", s.host.Name, err)
	}
	if out == "" { // dry-run
		return "", nil, nil
	}
	return parseRemoteGenerations(out)
}

// Rollback makes target current on the host and activates it.
func (s *session) Rollback(ctx context.Context, cur, target Generation, out io.Writer) error {
	_, err := s.run(ctx, rollbackScript(cur.Number, target.Number), out)
	return s.explain(err, "activating generation "+strconv.Itoa(target.Number), "")
}

func (s *session) explain(err error, what, missingHint string) error {
	var ee *remote.ExitError
	if !errors.As(err, &ee) {
		return err
	}
	switch ee.ExitCode {
	case exitDeploy:
		var info struct {
			RunID   string    `json:"runId"`
			Who     string    `json:"who"`
			Started time.Time `json:"started"`
			Action  string    `json:"action"`
		}
		holder := "another run"
		if json.Unmarshal([]byte(lastLine(ee.StderrTail)), &info) == nil && info.Who != "" {
			holder = fmt.Sprintf("%s since %s (run %s, %s)", info.Who, info.Started.Local().Format("2006-01-02 15:04:05"), info.RunID, info.Action)
		}
		return exitcode.Newf(exitcode.Failure, "wait for that deploy to finish (its lock is /var/lib/nixctl/deploy.lock on the host)",
			"%s is being deployed by %s", s.host.Name, holder)
	case exitLocked:
		return exitcode.Newf(exitcode.Failure, "another nixctl run is working on "+s.host.Name+": wait for it and try again",
			"%s stayed locked for %s", s.host.Name, LockWait)
	case exitNoGen:
		if missingHint != "" {
			return exitcode.Newf(exitcode.Failure, missingHint, "the generation is missing on %s", s.host.Name)
		}
	case exitRestored:
		return exitcode.Newf(exitcode.Failure, "the previous generation is current again; see the output above",
			"%s on %s as %s failed", what, s.host.Name, s.user)
	}
	return exitcode.Newf(exitcode.Failure, "see the output above", "%s on %s as %s failed (exit %d): %s",
		what, s.host.Name, s.user, ee.ExitCode, lastLine(ee.StderrTail))
}

// parseRemoteGenerations reads generationsScript's output: the profile path,
// nix-env --list-generations, "--", then "N-link STOREPATH" lines.
func parseRemoteGenerations(out string) (string, []Generation, error) {
	path, rest, _ := strings.Cut(out, "\n")
	list, links, _ := strings.Cut(rest, "\n--\n")
	gens, err := nix.ParseGenerations(list, time.Local)
	if err != nil {
		return "", nil, err
	}
	paths := map[int]string{}
	for _, l := range strings.Split(links, "\n") {
		name, store, ok := strings.Cut(l, " ")
		if n, err := strconv.Atoi(strings.TrimSuffix(name, "-link")); ok && err == nil {
			paths[n] = store
		}
	}
	res := make([]Generation, len(gens))
	for i, g := range gens {
		res[i] = Generation{Generation: g, Path: paths[g.Number]}
	}
	return strings.TrimSpace(path), res, nil
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}
