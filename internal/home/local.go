package home

import (
	"context"

	"github.com/nixctl/nixctl/internal/fault"
	"github.com/nixctl/nixctl/internal/inventory"
)

// A profile without host: lives in the Home Manager profile of the account
// nixctl runs as. switch, diff, generations and rollback all find it
// through LocalProfile, so they agree on the current generation.

// LocalProfile is the path of p's Home Manager profile on this machine, or
// an error when p belongs to another user (its generations are not ours to
// compare, list or activate) or nixctl cannot tell whose profile to read.
func (e *Env) LocalProfile(p inventory.Profile) (string, error) {
	if p.User != "" && e.Who.User != "" && p.User != e.Who.User {
		return "", fault.Newf(fault.Usage, "run nixctl as "+p.User+", or give the profile a host: to activate it over SSH",
			"profile %s is for user %s, but nixctl runs as %s", p.Name, p.User, e.Who.User)
	}
	if _, ok := stateProfiles(e.StateHome, e.Home); !ok && e.Who.User == "" {
		return "", fault.Newf(fault.Usage, "set USER to your user name",
			"profile %s: cannot tell whose Home Manager profile to read: this process's user has no name", p.Name)
	}
	path := ProfilePath(e.StateHome, e.Home, e.Who.User)
	return path, nil
}

// LocalGenerations lists the generations of p's profile on this machine
// and returns the profile's path.
func (e *Env) LocalGenerations(ctx context.Context, p inventory.Profile) (string, []Generation, error) {
	path, err := e.LocalProfile(p)
	if err != nil {
		return "", nil, err
	}
	gens, err := Generations(ctx, e.Runner, path)
	return path, gens, err
}
