// Package localhosts gives tests hosts without sshd: nixctl's host operations
// run with the real scripts and the local sh, each host under a root of its
// own.
package localhosts

import (
	"context"
	"sync"

	"github.com/nixctl/nixctl/internal/hostops"
	"github.com/nixctl/nixctl/internal/remote"
	"github.com/nixctl/nixctl/internal/testutil"
)

// Hosts carries out nixctl's host operations with the real scripts
// and this machine's sh, each host under a root directory of its own (Root
// by the route's host name): hosts without sshd, for tests of what a
// command does with what hosts answer. It records the routes it opened.
type Hosts struct {
	Root map[string]string

	mu     sync.Mutex
	opened []string
}

// Opened are the routes opened so far, in order.
func (l *Hosts) Opened() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.opened...)
}

func (l *Hosts) open(r remote.Route) (*hostops.Host, error) {
	root, ok := l.Root[r.HostName]
	if !ok {
		return nil, &remote.ExitError{Command: "ssh " + r.String(), ExitCode: 255, StderrTail: "ssh: Could not resolve hostname " + r.HostName}
	}
	l.mu.Lock()
	l.opened = append(l.opened, r.String())
	l.mu.Unlock()
	// sudo is not asked for: the scripts run as the test's own user.
	return hostops.New(testutil.LocalConn{}, root, false, r.String())
}

// Connect opens r's system operations.
func (l *Hosts) Connect(_ context.Context, r remote.Route, _ bool) (hostops.System, error) {
	return l.open(r)
}

// ConnectHome opens r's Home Manager operations.
func (l *Hosts) ConnectHome(_ context.Context, r remote.Route) (hostops.Home, error) {
	return l.open(r)
}

// ConnectCluster opens what nixctl reads of r's cluster.
func (l *Hosts) ConnectCluster(_ context.Context, r remote.Route, _ bool) (hostops.Cluster, error) {
	return l.open(r)
}
