package deploy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/nixctl/nixctl/internal/hostops"
	"github.com/nixctl/nixctl/internal/inventory"
)

// DefaultHealthTimeout is how long a check may keep failing before the host
// counts as unhealthy, when the check sets no timeout of its own.
const DefaultHealthTimeout = 60 * time.Second

// HealthError is a check that never passed before its deadline.
type HealthError struct {
	Host  string
	Check string
	Last  error
}

// Error leaves the host out: the report names it once, in front.
func (e *HealthError) Error() string {
	return fmt.Sprintf("health check %s failed: %v", e.Check, e.Last)
}

func (e *HealthError) Unwrap() error { return e.Last }

// healthChecker runs a host's checks, each retried until its deadline.
type healthChecker struct {
	hosts    hostops.Connector
	probe    Probe
	interval time.Duration
}

func newHealthChecker(d hostops.Connector, probe Probe, interval time.Duration) *healthChecker {
	if interval <= 0 {
		interval = time.Second
	}
	if probe == nil {
		probe = NetProbe()
	}
	return &healthChecker{hosts: d, probe: probe, interval: interval}
}

// Probe runs the checks nixctl makes from this machine (tcp, http); the
// command checks run on the host, through hostops.
type Probe interface {
	Check(ctx context.Context, host string, c inventory.Health) error
}

// NetProbe reaches the network.
func NetProbe() Probe {
	return netProbe{client: &http.Client{
		// A check looks at the host itself: a redirect elsewhere is its answer.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

type netProbe struct{ client *http.Client }

func (p netProbe) Check(ctx context.Context, _ string, c inventory.Health) error {
	if c.Kind() == "tcp" {
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", c.TCP)
		if err != nil {
			return err
		}
		return conn.Close()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.HTTP, nil)
	if err != nil {
		return err
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != c.ExpectStatus {
		return fmt.Errorf("status %d, want %d", resp.StatusCode, c.ExpectStatus)
	}
	return nil
}

// PrintProbe is the Probe of --dry-run: each check is a line of the printed
// plan, and passes.
type PrintProbe struct{ Out io.Writer }

func (p PrintProbe) Check(_ context.Context, host string, c inventory.Health) error {
	line := fmt.Sprintf("# %s: health %s %s, from here", host, c.Kind(), c.Target())
	if c.Kind() == "http" {
		line += fmt.Sprintf(", expect status %d", c.ExpectStatus)
	}
	_, err := fmt.Fprintln(p.Out, line)
	return err
}

// run checks that the host still accepts SSH, then every configured check.
func (hc *healthChecker) run(ctx context.Context, h HostPlan) error {
	sshCheck := func(ctx context.Context) error {
		s, err := hc.hosts.Connect(ctx, h.Route, false)
		if err != nil {
			return err
		}
		defer s.Close()
		return s.Ping(ctx)
	}
	if err := hc.retry(ctx, DefaultHealthTimeout, sshCheck); err != nil {
		return &HealthError{Host: h.Host.Name, Check: "ssh " + h.Route.String(), Last: err}
	}
	for _, c := range h.Host.Health {
		timeout := c.Timeout
		if timeout <= 0 {
			timeout = DefaultHealthTimeout
		}
		err := hc.retry(ctx, timeout, func(ctx context.Context) error { return hc.once(ctx, h, c) })
		if err != nil {
			return &HealthError{Host: h.Host.Name, Check: c.Kind() + " " + c.Target(), Last: err}
		}
	}
	return nil
}

// retry calls f until it succeeds, ctx ends or timeout passes. When ctx's
// own deadline (--timeout) ends it first, the error says how long the check
// actually ran.
func (hc *healthChecker) retry(parent context.Context, timeout time.Duration, f func(context.Context) error) error {
	start := time.Now()
	ctx, cancel := context.WithTimeout(parent, timeout)
	defer cancel()
	var last error
	for {
		err := f(ctx)
		if err == nil {
			return nil
		}
		// An attempt cut short by the deadline says less than the one before.
		if ctx.Err() == nil || last == nil {
			last = err
		}
		select {
		case <-ctx.Done():
			if errors.Is(parent.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("stopped by --timeout after %s, still failing: %w", roundRan(time.Since(start)), last)
			}
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("still failing after %s: %w", timeout, last)
			}
			return ctx.Err()
		case <-time.After(hc.interval):
		}
	}
}

// roundRan rounds how long something ran for a message.
func roundRan(d time.Duration) time.Duration {
	if d < time.Second {
		return d.Round(time.Millisecond)
	}
	return d.Round(100 * time.Millisecond)
}

func (hc *healthChecker) once(ctx context.Context, h HostPlan, c inventory.Health) error {
	if c.Kind() == "tcp" || c.Kind() == "http" {
		return hc.probe.Check(ctx, h.Host.Name, c)
	}
	s, err := hc.hosts.Connect(ctx, h.Route, false)
	if err != nil {
		return err
	}
	defer s.Close()
	return s.RunCheck(ctx, c.Command)
}
