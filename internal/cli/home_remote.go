package cli

import (
	"context"

	"github.com/nixctl/nixctl/internal/app"
	"github.com/nixctl/nixctl/internal/home"
	"github.com/nixctl/nixctl/internal/inventory"
)

// newHomeRemote is how home reaches the hosts of remote profiles. An ssh
// configuration nixctl cannot read fails remote profiles only, when they
// are reached.
func newHomeRemote(deps *app.Deps, fleet *inventory.Fleet) home.Remote {
	ssh, err := deps.SSH()
	if err != nil {
		return unreachable{err}
	}
	return &home.SSH{SSH: ssh, Fleet: fleet, Hosts: deps.Hosts(ssh)}
}

// unreachable is every host when the ssh configuration cannot be read.
type unreachable struct{ err error }

func (u unreachable) NixStore(inventory.Host) (string, []string, error) { return "", nil, u.err }

func (u unreachable) Open(context.Context, inventory.Host, string) (home.Session, error) {
	return nil, u.err
}
