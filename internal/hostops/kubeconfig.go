package hostops

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"
)

// Cluster is what nixctl reads on a host that runs a Kubernetes
// controller.
type Cluster interface {
	// AdminKubeconfig reads the cluster's admin kubeconfig from src. A read
	// that fails is a *ScriptError carrying its own exit code and stderr;
	// one that prints nothing is ErrNoKubeconfig, more than MaxKubeconfig
	// bytes ErrKubeconfigTooLarge. The kubeconfig holds a private key:
	// no error quotes it.
	AdminKubeconfig(ctx context.Context, src KubeconfigSource) ([]byte, error)
	Close() error
}

// KubeconfigSource says where a host keeps its cluster's admin kubeconfig:
// a file (Path), the output of a command given as its words (Argv), or,
// when both are empty, k0s kubeconfig admin.
type KubeconfigSource struct {
	Path string
	Argv []string
}

// String names the source in messages.
func (src KubeconfigSource) String() string {
	switch {
	case src.Path != "":
		return src.Path
	case len(src.Argv) > 0:
		return strings.Join(src.Argv, " ")
	}
	return "k0s kubeconfig admin"
}

// args are the source as kubeconfig-read's KIND and ARGs.
func (src KubeconfigSource) args() ([]string, error) {
	switch {
	case src.Path != "" && len(src.Argv) > 0:
		return nil, errors.New("a kubeconfig source is a file or a command, not both")
	case src.Path != "":
		if !path.IsAbs(src.Path) || path.Clean(src.Path) != src.Path {
			return nil, fmt.Errorf("kubeconfig file %q: want a clean absolute path", src.Path)
		}
		return []string{"path", src.Path}, nil
	case len(src.Argv) > 0:
		if strings.HasPrefix(src.Argv[0], "-") {
			return nil, fmt.Errorf("kubeconfig command %q starts with an option, not a program", src.Argv[0])
		}
		return append([]string{"command"}, src.Argv...), nil
	}
	return []string{"k0s-admin"}, nil
}

// MaxKubeconfig bounds what is read from a host: an admin kubeconfig is a
// few kilobytes.
const MaxKubeconfig = 1 << 20

// Errors of AdminKubeconfig whose read exited 0.
var (
	ErrNoKubeconfig       = errors.New("the read printed nothing")
	ErrKubeconfigTooLarge = fmt.Errorf("the read printed more than %d bytes", MaxKubeconfig)
)

// AdminKubeconfig runs kubeconfig-read, through sudo -n when the host was
// opened with sudo.
func (h *Host) AdminKubeconfig(ctx context.Context, src KubeconfigSource) ([]byte, error) {
	args, err := src.args()
	if err != nil {
		return nil, err
	}
	o, err := h.run(ctx, scriptKubeconfigRead, false, nil, nil, append([]string{boolArg(h.sudo)}, args...)...)
	if err != nil {
		return nil, err
	}
	if _, ok := h.conn.(PrintConn); ok {
		return plannedKubeconfig(h.name), nil
	}
	switch {
	case o.stdout == "":
		return nil, ErrNoKubeconfig
	case len(o.stdout) > MaxKubeconfig:
		return nil, ErrKubeconfigTooLarge
	}
	return []byte(o.stdout), nil
}
