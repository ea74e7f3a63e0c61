package ci

import (
	"context"
	"testing"

	"github.com/nixctl/nixctl/internal/deploy"
	"github.com/nixctl/nixctl/internal/fault"
)

// deployStage runs the deploy stage alone (every stage before it passed)
// with a deployer that answers rep and err.
func deployStage(t *testing.T, rep *deploy.Report, err error) Stage {
	t.Helper()
	var got string
	rn := &run{o: Options{Deploy: "@web", RunDeploy: func(_ context.Context, selector string) (*deploy.Report, error) {
		got = selector
		return rep, err
	}}, ev: noEvents{}, rep: &Report{}}
	rn.stage(t.Context(), StageDeploy, fault.Failure, rn.deploy)
	if got != "@web" {
		t.Errorf("deployed %q, want the --deploy selector", got)
	}
	return rn.rep.Stages[0]
}

func TestDeployStageCasePerHost(t *testing.T) {
	t.Parallel()
	st := deployStage(t, &deploy.Report{Hosts: []deploy.HostResult{
		{Host: "a", Result: deploy.ResultOK, Stage: deploy.StageDone, Log: "/logs/a.log"},
		{Host: "b", Result: deploy.ResultRolledBack, Stage: deploy.StageHealth, Error: "tcp 192.0.2.1:22: connection refused", Hint: "look at the host"},
	}}, nil)
	if st.Status != Failed || st.Kind != fault.RolledBack {
		t.Errorf("status %s, kind %v, want failed with deploy's %v", st.Status, st.Kind, fault.RolledBack)
	}
	if len(st.Cases) != 2 || st.Cases[0].Name != "a" || st.Cases[0].Status != Passed || st.Cases[0].Output != "/logs/a.log" {
		t.Fatalf("cases = %+v", st.Cases)
	}
	if c := st.Cases[1]; c.Status != Failed || len(c.Problems) != 1 ||
		c.Problems[0].String() != "rolled back at health: tcp 192.0.2.1:22: connection refused (look at the host)" {
		t.Errorf("failed host case = %+v", c)
	}
}

func TestDeployStageWithoutHosts(t *testing.T) {
	t.Parallel()
	// The plan could not be made: one case with the error and its hint.
	st := deployStage(t, nil, fault.Newf(fault.Failure, "install it", "nixos-rebuild is not installed"))
	if st.Status != Failed || st.Kind != fault.Failure || len(st.Cases) != 1 ||
		st.Cases[0].Problems[0].String() != "nixos-rebuild is not installed (install it)" {
		t.Errorf("stage = %+v", st)
	}
	// Interrupted with every host fine: the stage still fails, and says why.
	st = deployStage(t, &deploy.Report{Interrupted: true, Hosts: []deploy.HostResult{{Host: "a", Result: deploy.ResultOK, Stage: deploy.StageDone}}}, nil)
	if st.Status != Failed || st.Kind != fault.Interrupted || len(st.Cases) != 2 || st.Cases[1].Problems[0].String() != "interrupted" {
		t.Errorf("interrupted stage = %+v", st)
	}
	// --dry-run: nothing deployed, nothing failed.
	st = deployStage(t, &deploy.Report{}, nil)
	if st.Status != Passed || len(st.Cases) != 1 || st.Cases[0].Kind != KindDeploy {
		t.Errorf("empty report = %+v", st)
	}
	// A deploy cancelled before any host started is interrupted.
	st = deployStage(t, nil, context.Canceled)
	if st.Status != Failed || st.Kind != fault.Interrupted {
		t.Errorf("cancelled: status %s, kind %v", st.Status, st.Kind)
	}
}
