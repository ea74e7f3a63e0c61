package cli

import (
	"github.com/nixctl/nixctl/internal/app"
	"github.com/nixctl/nixctl/internal/home"
	"github.com/nixctl/nixctl/internal/inventory"
)

// newHomeRemote is how home reaches remote hosts (filled in when
// internal/remote lands).
func newHomeRemote(deps *app.Deps, fleet *inventory.Fleet) home.Remote { return nil }
