package cli

import (
	"github.com/nixctl/nixctl/internal/app"
	"github.com/nixctl/nixctl/internal/home"
	"github.com/nixctl/nixctl/internal/inventory"
	"github.com/nixctl/nixctl/internal/remote"
)

// newHomeRemote is how home reaches the hosts of remote profiles.
func newHomeRemote(deps *app.Deps, fleet *inventory.Fleet) home.Remote {
	return &home.SSH{
		Dialer: remote.NewDialer(deps.Home(), deps.Getenv),
		Fleet:  fleet,
		DryRun: deps.Config.DryRun,
		Out:    deps.IO.Out,
	}
}
