package cli

import (
	"github.com/spf13/pflag"

	"github.com/nixctl/nixctl/internal/fault"
)

// addEvalJobsFlag adds --eval-jobs to a command that evaluates hosts or
// profiles.
func addEvalJobsFlag(f *pflag.FlagSet, n *int) {
	f.IntVar(n, "eval-jobs", 0, "nix evaluation processes at once, each evaluating up to 100 items (default: one per core, as memory allows at 2 GiB each)")
}

func checkEvalJobs(n int) error {
	if n < 0 {
		return fault.Usagef("--eval-jobs 1 evaluates in one process at a time; leave it out for the default", "--eval-jobs %d is not a number of processes", n)
	}
	return nil
}
