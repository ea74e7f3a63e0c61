// Package exitcode owns nixctl's exit codes: the table README documents and
// the mapping from a fault.Kind to its code. CI pipelines rely on the
// numbers, so codes never change meaning. Only internal/cli and cmd/ import
// this package (a test holds the tree to it): the rest of the program says
// what failed with a fault.Kind and leaves the number to the command line.
package exitcode

import "github.com/nixctl/nixctl/internal/fault"

// Exit codes. Keep in sync with README's table (a cli test checks it).
const (
	OK          = 0   // everything succeeded
	Failure     = 1   // an error nixctl could not classify further
	Usage       = 2   // bad flags, arguments or selectors
	Inventory   = 3   // nixctl.yaml missing or invalid, or disagreeing with the flake
	Check       = 4   // nix flake check or an evaluation failed
	Partial     = 5   // some hosts or profiles failed, the others succeeded
	RolledBack  = 6   // a health check failed, or the host ran a system other than the one built, and it was rolled back
	Secrets     = 7   // a secret is plaintext, tampered, or its recipients drifted
	Eval        = 8   // nixctl ci: the evaluate stage failed
	Build       = 9   // a build failed
	AllFailed   = 10  // every selected host or profile failed
	Cancelled   = 11  // the user declined a confirmation; nothing was changed
	Interrupted = 130 // SIGINT or SIGTERM
)

// For is the exit code of kind. A kind without a code of its own (one added
// to fault but not here) exits Failure rather than a number nobody
// documented; a test keeps that from happening.
func For(kind fault.Kind) int {
	switch kind {
	case fault.OK:
		return OK
	case fault.Usage:
		return Usage
	case fault.Inventory:
		return Inventory
	case fault.Check:
		return Check
	case fault.Partial:
		return Partial
	case fault.RolledBack:
		return RolledBack
	case fault.Secrets:
		return Secrets
	case fault.Eval:
		return Eval
	case fault.Build:
		return Build
	case fault.AllFailed:
		return AllFailed
	case fault.Cancelled:
		return Cancelled
	case fault.Interrupted:
		return Interrupted
	}
	return Failure
}

// Code classifies err into an exit code: OK for nil, else its kind's code.
func Code(err error) int {
	return For(fault.KindOf(err))
}
