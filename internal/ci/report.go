// Package ci validates a whole fleet repository in one run, for pipelines:
// stages (inventory, secrets, flake, evaluate, build, deploy) each report a
// case per host, profile, secret file or check, every stage runs even after
// one failed, and the result is written as a human summary, JUnit XML, JSON
// and GitHub annotations. The first failing stage decides the run's kind,
// which the command line turns into the exit code.
package ci

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/nixctl/nixctl/internal/fault"
	"github.com/nixctl/nixctl/internal/nix"
)

// Stage names, in the order they run.
const (
	StageInventory = "inventory"
	StageSecrets   = "secrets"
	StageFlake     = "flake"
	StageEvaluate  = "evaluate"
	// StageSecretsAccess checks that each machine can decrypt what its
	// sops-nix declarations use.
	StageSecretsAccess = "secrets-access"
	StageBuild         = "build"
	StageDeploy        = "deploy"
)

// Status of a case or a stage.
type Status string

// Statuses.
const (
	Passed  Status = "passed"
	Failed  Status = "failed"
	Skipped Status = "skipped"
)

// Problem is one thing wrong with a case, with its location when known
// (File relative to the repository). It has the shape of nix's parsed
// errors, which most problems are.
type Problem = nix.Error

// Case is one checked thing: a host, a profile, a secret file, a check.
type Case struct {
	// Kind is host, profile, secret, check, inventory, flake, build or deploy.
	Kind   string `json:"kind"`
	Name   string `json:"name"`
	Status Status `json:"status"`
	// Problems explain a failure; Reason a skip.
	Problems []Problem `json:"problems,omitempty"`
	Reason   string    `json:"reason,omitempty"`
	// Output is extra text for the report: a drvPath, an out path, the
	// builder's last log lines, flake outputs the inventory does not list.
	Output   string        `json:"output,omitempty"`
	Duration time.Duration `json:"-"`
}

// Summary is the case's result as one line.
func (c Case) Summary() string {
	switch c.Status {
	case Failed:
		if len(c.Problems) == 0 {
			return "failed"
		}
		s := c.Problems[0].String()
		if n := len(c.Problems); n > 1 {
			s += fmt.Sprintf(" (and %d more)", n-1)
		}
		return s
	case Skipped:
		return "skipped: " + c.Reason
	}
	return "ok"
}

// Stage is one step of the run and its cases.
type Stage struct {
	Name   string `json:"name"`
	Status Status `json:"status"`
	// Reason says why a whole stage was skipped.
	Reason   string        `json:"reason,omitempty"`
	Cases    []Case        `json:"cases"`
	Duration time.Duration `json:"-"`
	// Kind is what this stage's failure says about the run; the CLI
	// chooses its exit code (WriteJSON is given the mapping).
	Kind fault.Kind `json:"-"`
}

// Counts returns how many cases passed, failed and were skipped.
func (s Stage) Counts() (passed, failed, skipped int) {
	for _, c := range s.Cases {
		switch c.Status {
		case Passed:
			passed++
		case Failed:
			failed++
		case Skipped:
			skipped++
		}
	}
	return
}

// finish sets the stage's status from its cases.
func (s *Stage) finish(kind fault.Kind, d time.Duration) {
	s.Duration = d
	if s.Status == Skipped {
		return
	}
	s.Status = Passed
	for _, c := range s.Cases {
		if c.Status == Failed {
			s.Status, s.Kind = Failed, kind
			return
		}
	}
}

// Report is a whole run.
type Report struct {
	OK bool `json:"ok"`
	// Kind is the first failed stage's (OK when none failed).
	Kind     fault.Kind    `json:"-"`
	Started  time.Time     `json:"started"`
	Duration time.Duration `json:"-"`
	Stages   []Stage       `json:"stages"`
}

// FirstFailed is the first failed stage, or nil.
func (r *Report) FirstFailed() *Stage {
	for i := range r.Stages {
		if r.Stages[i].Status == Failed {
			return &r.Stages[i]
		}
	}
	return nil
}

// Stage returns the stage named name, or nil.
func (r *Report) Stage(name string) *Stage {
	for i := range r.Stages {
		if r.Stages[i].Name == name {
			return &r.Stages[i]
		}
	}
	return nil
}

func (r *Report) settle() {
	r.OK, r.Kind = true, fault.OK
	if f := r.FirstFailed(); f != nil {
		r.OK, r.Kind = false, f.Kind
	}
}

// WriteJSON writes the report as indented JSON. Durations are in seconds.
// exitCode turns a kind into the exit code the JSON shows: the command line
// owns those numbers, and the report shows the ones the run exits with.
func (r *Report) WriteJSON(w io.Writer, exitCode func(fault.Kind) int) error {
	type jcase struct {
		Case
		Seconds float64 `json:"seconds"`
	}
	type jstage struct {
		Stage
		ExitCode int     `json:"exitCode,omitempty"`
		Cases    []jcase `json:"cases"`
		Seconds  float64 `json:"seconds"`
	}
	out := struct {
		*Report
		ExitCode int      `json:"exitCode"`
		Stages   []jstage `json:"stages"`
		Seconds  float64  `json:"seconds"`
	}{Report: r, ExitCode: exitCode(r.Kind), Seconds: seconds(r.Duration)}
	for _, s := range r.Stages {
		js := jstage{Stage: s, Seconds: seconds(s.Duration), Cases: []jcase{}}
		if s.Kind != fault.OK {
			js.ExitCode = exitCode(s.Kind)
		}
		for _, c := range s.Cases {
			js.Cases = append(js.Cases, jcase{Case: c, Seconds: seconds(c.Duration)})
		}
		out.Stages = append(out.Stages, js)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(out)
}

func seconds(d time.Duration) float64 {
	return float64(d.Round(time.Millisecond)) / float64(time.Second)
}
