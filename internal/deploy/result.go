package deploy

import (
	"time"

	"github.com/nixctl/nixctl/internal/fault"
)

// Results a host can end with.
const (
	ResultOK             = "ok"
	ResultFailed         = "failed"
	ResultRolledBack     = "rolled back"
	ResultRollbackFailed = "rollback failed"
	// ResultRolledBackByHost: nixctl could not reconnect after the
	// activation and the host's watchdog switched it back (magic rollback).
	ResultRolledBackByHost = "rolled back by host"
	// ResultUnreachable: nor did the host come back afterwards.
	ResultUnreachable = "unreachable"
	ResultCancelled   = "cancelled"
	ResultInterrupted = "interrupted"
	// ResultUnchanged: --diff found the host already runs the new system.
	ResultUnchanged = "unchanged"
	// ResultNotStarted: an earlier batch or a canary failed, or the plan
	// was not approved; the error says which.
	ResultNotStarted = "not started"
)

// HostResult is how one host's deploy ended.
type HostResult struct {
	Host   string `json:"host"`
	Action string `json:"action"`
	Result string `json:"result"`
	// Stage is where the host stopped (done when it finished).
	Stage      string        `json:"stage"`
	Error      string        `json:"error,omitempty"`
	Hint       string        `json:"hint,omitempty"`
	Duration   time.Duration `json:"durationNs"`
	Generation int           `json:"generation,omitempty"`
	Log        string        `json:"log,omitempty"`
	// DrvPath is the host's system derivation as the check stage
	// evaluated it; StorePath what the build made of it, the closure
	// activation can use without evaluating the flake again.
	DrvPath   string `json:"drvPath,omitempty"`
	StorePath string `json:"storePath,omitempty"`
	// Diff is the host's plan (with --diff and nixctl plan).
	Diff *HostDiff `json:"diff,omitempty"`
	// Batch is the rollout batch the host was activated in, from 1 (the
	// canaries, when there are some); 0 without batches.
	Batch int `json:"batch,omitempty"`
}

// OK reports whether the host ended as asked.
func (r HostResult) OK() bool { return r.Result == ResultOK || r.Result == ResultUnchanged }

// Report is a whole run.
type Report struct {
	RunID       string       `json:"runId"`
	Action      string       `json:"action"`
	Hosts       []HostResult `json:"hosts"`
	Interrupted bool         `json:"interrupted"`
	LogDir      string       `json:"logDir,omitempty"`
	// Declined is the answer that stopped the run after the plan (nil when
	// it went on).
	Declined error `json:"-"`
}

// Kind is what the run's outcome says about it, which the CLI turns into
// the exit code: OK when every host is fine; Interrupted; Check when the
// check stage failed every host; Build when the build failed every host;
// AllFailed when every host failed; Partial when some failed; RolledBack
// when none failed but some were rolled back.
func (r *Report) Kind() fault.Kind {
	if r.Interrupted {
		return fault.Interrupted
	}
	var failed, rolledBack, atCheck, atBuild int
	for _, h := range r.Hosts {
		switch h.Result {
		case ResultOK, ResultUnchanged:
		case ResultRolledBack, ResultRolledBackByHost:
			rolledBack++
		default:
			failed++
			switch h.Stage {
			case StageCheck:
				atCheck++
			case StageBuild:
				atBuild++
			}
		}
	}
	n := len(r.Hosts)
	switch {
	case n == 0 || failed == 0 && rolledBack == 0:
		return fault.OK
	case atCheck == n:
		return fault.Check
	case atBuild == n:
		return fault.Build
	case failed == 0:
		return fault.RolledBack
	default:
		return fault.Outcome(n, failed, false)
	}
}

// Count returns how many hosts ended with result.
func (r *Report) Count(result string) int {
	n := 0
	for _, h := range r.Hosts {
		if h.Result == result {
			n++
		}
	}
	return n
}
