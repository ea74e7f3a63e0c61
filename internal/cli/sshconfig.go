package cli

import (
	"strings"

	"github.com/nixctl/nixctl/internal/app"
	"github.com/nixctl/nixctl/internal/remote"
	"github.com/nixctl/nixctl/internal/scaffold"
)

// sshConfigLookup finds, for 'init --adopt' and 'inventory sync', the Host
// alias of the user's ssh configuration that names a machine, resolved by
// the same resolver every connection of nixctl uses.
func sshConfigLookup(deps *app.Deps) scaffold.SSHLookup {
	ssh, err := deps.SSH()
	if err != nil {
		deps.IO.Warnf("the ssh configuration could not be read, so no address was taken from it: %v", err)
		return nil
	}
	aliases := ssh.Aliases()
	if len(aliases) == 0 {
		return nil
	}
	resolve := func(alias string) (scaffold.SSHHost, bool) {
		r, err := ssh.Route(remote.Spec{Host: alias})
		if err != nil {
			return scaffold.SSHHost{}, false
		}
		h := scaffold.SSHHost{Alias: alias, HostName: r.HostName, Port: r.Port, User: r.User}
		if r.Jump != nil {
			h.ProxyJump = r.Jump.Name
		}
		return h, true
	}
	return func(names ...string) (scaffold.SSHHost, bool) {
		// A Host named like the output first, then one whose HostName is it.
		for _, n := range names {
			for _, a := range aliases {
				if strings.EqualFold(a, n) {
					return resolve(a)
				}
			}
		}
		for _, n := range names {
			for _, a := range aliases {
				if h, ok := resolve(a); ok && strings.EqualFold(h.HostName, n) {
					return h, true
				}
			}
		}
		return scaffold.SSHHost{}, false
	}
}
