package secrets

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"path"
	"strings"

	"github.com/google/shlex"
	"go.yaml.in/yaml/v3"

	"github.com/nixctl/nixctl/internal/execx"
	"github.com/nixctl/nixctl/internal/fault"
	"github.com/nixctl/nixctl/internal/hostops"
	"github.com/nixctl/nixctl/internal/remote"
)

// ParseKubeconfigSource validates --remote-path and --remote-command;
// neither means k0s's admin kubeconfig. The command is split into words as
// a shell would (no shell features), and each word reaches the host as an
// argument of its own, never as script text (see hostops.AdminKubeconfig).
func ParseKubeconfigSource(remotePath, remoteCommand string) (hostops.KubeconfigSource, error) {
	var none hostops.KubeconfigSource
	hint := "--remote-path /var/lib/k0s/pki/admin.conf or --remote-command 'k0s kubeconfig admin'"
	switch {
	case remotePath != "" && remoteCommand != "":
		return none, fault.Usagef(hint, "--remote-path and --remote-command exclude each other")
	case remotePath != "":
		if strings.ContainsFunc(remotePath, isControl) {
			return none, fault.Usagef(hint, "--remote-path contains a control character")
		}
		if !path.IsAbs(remotePath) || path.Clean(remotePath) != remotePath {
			return none, fault.Usagef(hint, "--remote-path %q is not a clean absolute path", remotePath)
		}
		return hostops.KubeconfigSource{Path: remotePath}, nil
	case remoteCommand != "":
		argv, err := shlex.Split(remoteCommand)
		if err != nil || len(argv) == 0 {
			return none, fault.Usagef(hint, "--remote-command cannot be split into words")
		}
		for _, w := range argv {
			if strings.ContainsFunc(w, isControl) {
				return none, fault.Usagef(hint, "--remote-command contains a control character")
			}
		}
		if strings.HasPrefix(argv[0], "-") {
			return none, fault.Usagef(hint, "--remote-command starts with an option (%s), not a program", argv[0])
		}
		return hostops.KubeconfigSource{Argv: argv}, nil
	}
	return hostops.KubeconfigSource{}, nil // k0s kubeconfig admin
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// otherSource is the hint of a read that failed on the host.
const otherSource = "check that it prints the kubeconfig when run on the host; --remote-path FILE or --remote-command CMD name another source"

// FetchKubeconfig reads src on the host through the kubeconfig-read host
// operation (over SSH, its host key checked; with --dry-run, hosts prints
// the step and answers a stand-in) and returns the kubeconfig, kept in
// memory only. With elevate the read goes through sudo -n. The remote
// output never reaches an error message: it holds a private key.
func FetchKubeconfig(ctx context.Context, hosts hostops.Hosts, t remote.Route, elevate bool, src hostops.KubeconfigSource) ([]byte, error) {
	c, err := hosts.ConnectCluster(ctx, t, elevate)
	if err != nil {
		return nil, fault.New(fault.Failure, fmt.Errorf("connecting to %s: %w", t, err), fault.HintOf(err))
	}
	defer c.Close()
	data, err := c.AdminKubeconfig(ctx, src)
	var se *hostops.ScriptError
	switch {
	case err == nil:
		return data, nil
	case errors.Is(err, hostops.ErrNoKubeconfig):
		return nil, fault.Newf(fault.Failure, "check the host's admin kubeconfig", "%s on %s printed nothing", src, t)
	case errors.Is(err, hostops.ErrKubeconfigTooLarge):
		return nil, fault.Newf(fault.Failure, "check --remote-path / --remote-command", "%s on %s printed more than %d bytes: not a kubeconfig", src, t, hostops.MaxKubeconfig)
	case errors.As(err, &se):
		hint := otherSource
		if elevate && strings.Contains(se.StderrTail, "sudo") {
			hint = "sudo -n needs a password on the host: allow it without one for this user, or log in as root (user: root)"
		}
		msg := fmt.Sprintf("%s on %s failed (exit %d)", src, t, se.ExitCode)
		if line := execx.LastLine(se.StderrTail); line != "" {
			msg += ": " + printable(line)
		}
		return nil, fault.Newf(fault.Failure, hint, "%s", msg)
	}
	return nil, fault.New(fault.Failure, fmt.Errorf("%s on %s failed: %w", src, t, err), otherSource)
}

// RewriteKubeconfig makes a cluster's admin kubeconfig usable from here
// under the host's name: a server on a loopback address (what k0s writes)
// points at address instead, keeping its scheme and port, and the current
// context, its cluster and its user are all renamed to host, so several
// clusters' kubeconfigs merge without clashing. Errors never quote the
// document, which holds credentials.
func RewriteKubeconfig(data []byte, host, address string) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil || len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, errors.New("the output is not a YAML kubeconfig")
	}
	top := doc.Content[0]
	contexts := namedEntries(mapGet(top, "contexts"))
	if len(contexts) == 0 {
		return nil, errors.New("the kubeconfig has no contexts")
	}
	current := contexts[0]
	if cc := mapGet(top, "current-context"); cc != nil && cc.Value != "" {
		found := false
		for _, c := range contexts {
			if name := mapGet(c, "name"); name != nil && name.Value == cc.Value {
				current, found = c, true
			}
		}
		if !found {
			return nil, errors.New("the kubeconfig's current-context names no context")
		}
	}
	body := mapGet(current, "context")
	clusterRef, userRef := mapGet(body, "cluster"), mapGet(body, "user")
	if clusterRef == nil || userRef == nil {
		return nil, errors.New("the current context names no cluster or user")
	}
	if !renameEntry(mapGet(top, "clusters"), clusterRef.Value, host) {
		return nil, fmt.Errorf("the current context's cluster is not in clusters")
	}
	if !renameEntry(mapGet(top, "users"), userRef.Value, host) {
		return nil, fmt.Errorf("the current context's user is not in users")
	}
	oldCluster, oldUser := clusterRef.Value, userRef.Value
	for _, c := range contexts {
		b := mapGet(c, "context")
		if r := mapGet(b, "cluster"); r != nil && r.Value == oldCluster {
			r.Value = host
		}
		if r := mapGet(b, "user"); r != nil && r.Value == oldUser {
			r.Value = host
		}
	}
	mapGet(current, "name").Value = host
	setScalar(top, "current-context", host)
	for _, c := range namedEntries(mapGet(top, "clusters")) {
		srv := mapGet(mapGet(c, "cluster"), "server")
		if srv == nil {
			continue
		}
		rewritten, err := pointAt(srv.Value, address)
		if err != nil {
			return nil, err
		}
		srv.Value = rewritten
	}
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return nil, errors.New("cannot write the rewritten kubeconfig")
	}
	if err := enc.Close(); err != nil {
		return nil, errors.New("cannot write the rewritten kubeconfig")
	}
	return b.Bytes(), nil
}

// pointAt replaces a loopback host in a server URL by address.
func pointAt(server, address string) (string, error) {
	u, err := url.Parse(server)
	if err != nil || u.Host == "" {
		return "", errors.New("a cluster's server is not a URL")
	}
	switch h := u.Hostname(); {
	case h == "localhost", net.ParseIP(h) != nil && net.ParseIP(h).IsLoopback():
	default:
		return server, nil
	}
	if p := u.Port(); p != "" {
		u.Host = net.JoinHostPort(address, p)
	} else if strings.Contains(address, ":") {
		u.Host = "[" + address + "]"
	} else {
		u.Host = address
	}
	return u.String(), nil
}

func namedEntries(seq *yaml.Node) []*yaml.Node {
	if seq == nil || seq.Kind != yaml.SequenceNode {
		return nil
	}
	var out []*yaml.Node
	for _, n := range seq.Content {
		if n.Kind == yaml.MappingNode {
			out = append(out, n)
		}
	}
	return out
}

func renameEntry(seq *yaml.Node, from, to string) bool {
	found := false
	for _, e := range namedEntries(seq) {
		if n := mapGet(e, "name"); n != nil && n.Value == from {
			n.Value, found = to, true
		}
	}
	return found
}

func setScalar(m *yaml.Node, key, value string) {
	if n := mapGet(m, key); n != nil {
		n.Value, n.Tag, n.Style = value, "!!str", 0
		return
	}
	m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key},
		&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: value})
}
