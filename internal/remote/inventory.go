package remote

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/nixctl/nixctl/internal/inventory"
)

// Router gives the route to an inventory host (*SSH is one).
type Router interface {
	// HostRoute is the route to h as user ("" = the host's own), dir being
	// the inventory's directory (relative identity files start there).
	HostRoute(dir string, h *inventory.Host, user string) (Route, error)
}

// HostRoute resolves h as ssh would, with the inventory's user, port,
// identity and sshOptions as command-line options.
func (s *SSH) HostRoute(dir string, h *inventory.Host, user string) (Route, error) {
	spec := Spec{Host: h.Address, User: h.User, Port: h.Port, Options: h.SSHOptions}
	if user != "" {
		spec.User = user
	}
	switch id := h.Identity; {
	case id == "":
	case id == "~" || strings.HasPrefix(id, "~/"):
		spec.Identity = filepath.Join(s.env.Home, strings.TrimPrefix(id, "~"))
	case filepath.IsAbs(id):
		spec.Identity = id
	default:
		spec.Identity = filepath.Join(dir, id)
	}
	r, err := s.Route(spec)
	if err != nil {
		return Route{}, &RouteError{Host: h.Name, Err: err}
	}
	return r, nil
}

// RouteError is an inventory host whose route cannot be resolved.
type RouteError struct {
	Host string
	Err  error
}

func (e *RouteError) Error() string { return fmt.Sprintf("host %s: %v", e.Host, e.Err) }
func (e *RouteError) Unwrap() error { return e.Err }

// Hint says where the route comes from.
func (e *RouteError) Hint() string {
	if h := hintOf(e.Err); h != "" {
		return h
	}
	return "the route comes from the host's address, user, port, identity and sshOptions in nixctl.yaml and from ~/.ssh/config (ssh -G ADDRESS shows what ssh makes of it)"
}

func hintOf(err error) string {
	for err != nil {
		if h, ok := err.(interface{ Hint() string }); ok {
			return h.Hint()
		}
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return ""
		}
		err = u.Unwrap()
	}
	return ""
}
