package ci

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/nixctl/nixctl/internal/check"
	"github.com/nixctl/nixctl/internal/eval"
	"github.com/nixctl/nixctl/internal/inventory"
	"github.com/nixctl/nixctl/internal/secrets"
)

// SecretsAccessChecker checks that each host and profile of the fleet can
// decrypt what its sops-nix declarations use; evaluated are the results of
// secrets.DeclItems(fleet.Hosts, fleet.Profiles), which the evaluate stage
// evaluates with the hosts and profiles.
type SecretsAccessChecker func(ctx context.Context, fleet *inventory.Fleet, evaluated []eval.Result) (*secrets.AccessCheck, error)

// secretsDecls says whether the evaluation reads the sops declarations too.
func (rn *run) secretsDecls() bool {
	if rn.o.Fleet == nil || rn.o.CheckSecretsAccess == nil {
		return false
	}
	_, err := os.Stat(rn.o.Fleet.SopsConfigPath())
	return err == nil
}

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
	if rn.evalDone != nil {
		<-rn.evalDone
	}
	if len(rn.evalWith) != len(rn.o.Fleet.Hosts)+len(rn.o.Fleet.Profiles) {
		skip(st, "the evaluation did not run")
		return
	}
	rep, err := rn.o.CheckSecretsAccess(ctx, rn.o.Fleet, rn.evalWith)
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
