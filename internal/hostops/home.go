package hostops

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/nixctl/nixctl/internal/execx"
)

// Home is what nixctl does to a Home Manager profile on a host, as the
// profile's user.
type Home interface {
	// Preflight checks that nix is on the user's PATH (ErrNoNix).
	Preflight(ctx context.Context, sudo bool) error
	// Clobbers lists the files generation's activation would refuse to
	// overwrite (see home.FindClobbers).
	Clobbers(ctx context.Context, generation, backupExt string) ([]Clobber, error)
	// ActivateHome runs generation's activate script under the host's home
	// lock, waiting for it up to wait, with backupExt as home-manager's -b.
	ActivateHome(ctx context.Context, generation, backupExt string, wait time.Duration, out io.Writer) error
	// HomeGenerations lists the profile's generations.
	HomeGenerations(ctx context.Context) (HomeGenerations, error)
	// RollbackHome makes generation target current and activates it under
	// the lock; when that fails, cur is current again (ErrRestored).
	RollbackHome(ctx context.Context, cur, target int, wait time.Duration, out io.Writer) error
	Close() error
}

// Clobber is a file in the way of an activation; Backup is set when the
// file would be moved there but that backup exists already.
type Clobber struct {
	Path   string
	Backup string
}

// HomeGenerations is the profile's listing on the host.
type HomeGenerations struct {
	// Profile is the profile's path ("" when nothing was run: dry-run).
	Profile string
	// List is nix-env --list-generations' output.
	List string
	// Links maps generation numbers to their store paths.
	Links map[int]string
}

// Errors of the home operations.
var (
	// ErrNoGeneration: the generation to activate is missing, or the
	// profile has no generations.
	ErrNoGeneration = errors.New("no such generation")
	// ErrRestored: the activation failed and the previous generation is
	// current again.
	ErrRestored = errors.New("the activation failed; the previous generation is current again")
)

// DeployingError is a home operation refused because a deploy holds the host.
type DeployingError struct {
	// Info is the deploy's lock record (zero when it could not be read).
	Info LockInfo
}

func (e *DeployingError) Error() string {
	if e.Info.Who == "" {
		return "another run is deploying the host"
	}
	return e.Info.Who + " is deploying the host"
}

// LockWaitError is a home lock that stayed held for the whole wait.
type LockWaitError struct{ Wait time.Duration }

func (e *LockWaitError) Error() string { return fmt.Sprintf("the host stayed locked for %s", e.Wait) }

func checkStorePath(p string) error {
	if !strings.HasPrefix(p, "/nix/store/") || strings.ContainsAny(p, "\n\x00") {
		return fmt.Errorf("refusing to activate %q: not a store path", p)
	}
	return nil
}

// Clobbers runs home-clobbers.
func (h *Host) Clobbers(ctx context.Context, generation, backupExt string) ([]Clobber, error) {
	if err := checkStorePath(generation); err != nil {
		return nil, err
	}
	o, err := h.run(ctx, scriptHomeClobbers, false, nil, nil, generation, backupExt)
	if err != nil {
		return nil, err
	}
	var files []Clobber
	for _, l := range strings.Split(o.stdout, "\n") {
		switch kind, path, _ := strings.Cut(l, " "); kind {
		case "C":
			files = append(files, Clobber{Path: path})
		case "B":
			files = append(files, Clobber{Path: path, Backup: path + "." + backupExt})
		}
	}
	return files, nil
}

// ActivateHome runs home-activate for a generation.
func (h *Host) ActivateHome(ctx context.Context, generation, backupExt string, wait time.Duration, out io.Writer) error {
	if err := checkStorePath(generation); err != nil {
		return err
	}
	_, err := h.run(ctx, scriptHomeActivate, false, nil, out, waitSeconds(wait), "generation", generation, backupExt)
	return homeErr(err, wait)
}

// RollbackHome runs home-activate for a rollback.
func (h *Host) RollbackHome(ctx context.Context, cur, target int, wait time.Duration, out io.Writer) error {
	_, err := h.run(ctx, scriptHomeActivate, false, nil, out, waitSeconds(wait), "rollback", strconv.Itoa(cur), strconv.Itoa(target))
	return homeErr(err, wait)
}

func waitSeconds(d time.Duration) string { return strconv.Itoa(max(int(d.Seconds()), 0)) }

// homeErr gives the home lock's exit codes their typed errors.
func homeErr(err error, wait time.Duration) error {
	var se *ScriptError
	if !errors.As(err, &se) {
		return err
	}
	switch se.ExitCode {
	case ExitDeploying:
		de := &DeployingError{}
		_ = json.Unmarshal([]byte(execx.LastLine(se.StderrTail)), &de.Info)
		return de
	case ExitHeld:
		return &LockWaitError{Wait: wait}
	case ExitNoGeneration:
		return fmt.Errorf("%w: %w", ErrNoGeneration, err)
	case ExitRestored:
		return fmt.Errorf("%w: %w", ErrRestored, err)
	}
	return err
}

// HomeGenerations runs home-generations.
func (h *Host) HomeGenerations(ctx context.Context) (HomeGenerations, error) {
	o, err := h.run(ctx, scriptHomeGenerations, false, nil, nil)
	if exitCode(err) == ExitNoGeneration {
		return HomeGenerations{}, ErrNoGeneration
	}
	if err != nil {
		return HomeGenerations{}, err
	}
	return parseHomeGenerations(o.stdout), nil
}

// parseHomeGenerations reads home-generations' output: the profile path,
// nix-env --list-generations, "--", then "N-link STOREPATH" lines.
func parseHomeGenerations(out string) HomeGenerations {
	path, rest, _ := strings.Cut(out, "\n")
	list, links, _ := strings.Cut(rest, "\n--\n")
	g := HomeGenerations{Profile: strings.TrimSpace(path), List: list, Links: map[int]string{}}
	for _, l := range strings.Split(links, "\n") {
		name, store, ok := strings.Cut(l, " ")
		if n, err := strconv.Atoi(strings.TrimSuffix(name, "-link")); ok && err == nil {
			g.Links[n] = store
		}
	}
	return g
}
