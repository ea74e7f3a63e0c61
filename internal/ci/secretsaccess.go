package ci

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/nixctl/nixctl/internal/check"
	"github.com/nixctl/nixctl/internal/inventory"
	"github.com/nixctl/nixctl/internal/secrets"
)

// SecretsAccessChecker evaluates every host's and profile's sops-nix
// declarations and checks that each can decrypt what it uses.
type SecretsAccessChecker func(ctx context.Context, fleet *inventory.Fleet) (*secrets.AccessCheck, error)

// secretsAccess is one case per host and profile; a secret the machine
// would fail to decrypt is a problem of its case.
func (rn *run) secretsAccess(ctx context.Context, st *Stage) {
	switch {
	case rn.o.Fleet == nil:
		skip(st, "the inventory did not load")
		return
	case rn.o.CheckSecretsAccess == nil:
		skip(st, "no secrets access checker")
		return
	}
	if _, err := os.Stat(rn.o.Fleet.SopsConfigPath()); err != nil {
		skip(st, "no "+rn.rel(rn.o.Fleet.SopsConfigPath()))
		return
	}
	start := time.Now()
	rep, err := rn.o.CheckSecretsAccess(ctx, rn.o.Fleet)
	if err != nil {
		rn.add(st, Case{Kind: KindSecret, Name: "sops-nix declarations", Status: Failed, Duration: time.Since(start),
			Problems: []Problem{{Message: err.Error()}}})
		return
	}
	if len(rep.Machines) == 0 {
		skip(st, "no hosts or profiles")
		return
	}
	per := time.Since(start) / time.Duration(len(rep.Machines))
	for _, m := range rep.Machines {
		kind := check.KindHost
		if m.Kind == "profile" {
			kind = check.KindProfile
		}
		c := Case{Kind: kind, Name: m.Name, Status: Passed, Duration: per, Output: fmt.Sprintf("%d secret(s)", len(m.Secrets))}
		if m.Problem != "" {
			c.Problems = append(c.Problems, Problem{Message: m.Problem})
		}
		for _, s := range m.Secrets {
			if !s.OK {
				c.Problems = append(c.Problems, Problem{File: s.File, Message: "secret " + s.Name + ": " + s.Problem})
			}
		}
		if len(c.Problems) > 0 {
			c.Status = Failed
		}
		rn.add(st, c)
	}
}
