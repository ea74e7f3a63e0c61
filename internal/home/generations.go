package home

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/nixctl/nixctl/internal/execx"
	"github.com/nixctl/nixctl/internal/fault"
	"github.com/nixctl/nixctl/internal/nix"
)

// ProfilePath is where Home Manager 25.05 keeps a user's generations:
// ${XDG_STATE_HOME:-~/.local/state}/nix/profiles/home-manager when that
// nix/profiles folder exists, else the per-user profile under /nix/var.
func ProfilePath(stateHome, home, user string) string {
	if dir, ok := stateProfiles(stateHome, home); ok {
		return filepath.Join(dir, "home-manager")
	}
	return filepath.Join("/nix/var/nix/profiles/per-user", user, "home-manager")
}

// stateProfiles is ${XDG_STATE_HOME:-~/.local/state}/nix/profiles and
// whether that folder exists; stateHome is $XDG_STATE_HOME.
func stateProfiles(stateHome, home string) (string, bool) {
	state := stateHome
	if state == "" {
		state = filepath.Join(home, ".local", "state")
	}
	dir := filepath.Join(state, "nix", "profiles")
	st, err := os.Stat(dir)
	return dir, err == nil && st.IsDir()
}

// Current is the store path of the profile's current generation, "" when
// the profile has none yet.
func Current(profilePath string) (string, error) {
	p, err := filepath.EvalSymlinks(profilePath)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	return p, err
}

// ErrNoGenerations means a profile was never switched.
var ErrNoGenerations = errors.New("no Home Manager generations")

// Generation is one generation of a profile.
type Generation struct {
	nix.Generation
	// Path is the generation's store path ("" if its link is gone).
	Path string `json:"path"`
}

// linkPath is nix-env's PROFILE-N-link.
func linkPath(profilePath string, n int) string {
	return profilePath + "-" + strconv.Itoa(n) + "-link"
}

// Generations lists a profile's generations, oldest first.
func Generations(ctx context.Context, r execx.Runner, profilePath string) ([]Generation, error) {
	if _, err := os.Lstat(profilePath); errors.Is(err, fs.ErrNotExist) {
		return nil, fault.New(fault.Failure, fmt.Errorf("%w at %s", ErrNoGenerations, profilePath), "switch the profile first: nixctl home switch")
	}
	res, err := r.Run(ctx, execx.Cmd{Argv: nix.ListGenerations(profilePath), ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("listing generations of %s: %w", profilePath, err)
	}
	gens, err := nix.ParseGenerations(string(res.Stdout), time.Local)
	if err != nil {
		return nil, err
	}
	out := make([]Generation, len(gens))
	for i, g := range gens {
		out[i].Generation = g
		out[i].Path, _ = filepath.EvalSymlinks(linkPath(profilePath, g.Number))
	}
	return out, nil
}

// RollbackTarget picks the generation to go back to: to when it is set
// (> 0), else the one before the current.
func RollbackTarget(gens []Generation, to int) (cur, target Generation, err error) {
	curIdx := -1
	for i, g := range gens {
		if g.Current {
			curIdx, cur = i, g
		}
	}
	if to > 0 {
		for _, g := range gens {
			if g.Number == to {
				if g.Current {
					return cur, g, fault.Usagef("nixctl home generations lists them", "generation %d is already the current one", to)
				}
				return cur, g, nil
			}
		}
		return cur, target, fault.Usagef("nixctl home generations lists them", "no generation %d", to)
	}
	if curIdx <= 0 {
		return cur, target, fault.Newf(fault.Failure, "nixctl home generations lists them; --to N picks one", "no generation before the current one to roll back to")
	}
	return cur, gens[curIdx-1], nil
}

// Rollback makes generation target current again and runs its activation,
// the way Home Manager documents rollbacks; a failed activation switches
// the profile back to where it was.
func Rollback(ctx context.Context, r execx.Runner, profilePath string, cur, target Generation, out Streams) error {
	if _, err := r.Run(ctx, execx.Cmd{Argv: nix.SwitchGeneration(profilePath, target.Number), Stderr: out.Err}); err != nil {
		return fmt.Errorf("switching to generation %d: %w", target.Number, err)
	}
	activate := filepath.Join(linkPath(profilePath, target.Number), "activate")
	if _, err := r.Run(ctx, execx.Cmd{Argv: []string{activate}, Stdout: out.Err, Stderr: out.Err}); err != nil {
		if cur.Number > 0 {
			_, _ = r.Run(context.WithoutCancel(ctx), execx.Cmd{Argv: nix.SwitchGeneration(profilePath, cur.Number), Stderr: out.Err})
		}
		return fault.Newf(fault.Failure, "the profile was switched back to generation "+strconv.Itoa(cur.Number)+"; see the output above",
			"activating generation %d failed: %v", target.Number, err)
	}
	return nil
}
