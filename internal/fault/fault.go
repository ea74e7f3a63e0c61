// Package fault is how nixctl's packages say what went wrong: an error
// carries a Kind (which step of the user's work failed) and a hint (what the
// user should do next). Only the command line turns a Kind into an exit
// code, so the numbers CI pipelines rely on are chosen in one place and a
// domain package never needs to know them.
package fault

import (
	"context"
	"errors"
	"fmt"
)

// Kind says what failed. Each kind has one exit code, chosen by the CLI;
// the zero value OK is the outcome of a run where nothing failed.
type Kind int

const (
	OK          Kind = iota // nothing failed
	Failure                 // an error nobody classified further
	Usage                   // bad flags, arguments or selectors
	Inventory               // nixctl.yaml missing or invalid, or disagreeing with the flake
	Check                   // nix flake check or an evaluation failed
	Partial                 // some hosts or profiles failed, the others succeeded
	RolledBack              // a host was rolled back after a failed health or system check
	Secrets                 // a secret is plaintext, tampered, or its recipients drifted
	Eval                    // nixctl ci: the evaluate stage failed
	Build                   // a build failed
	AllFailed               // every selected host or profile failed
	Cancelled               // the user declined a confirmation; nothing was changed
	Interrupted             // SIGINT or SIGTERM
)

// Kinds lists every kind, so that a test can hold the exit-code table to it.
var Kinds = []Kind{OK, Failure, Usage, Inventory, Check, Partial, RolledBack, Secrets, Eval, Build, AllFailed, Cancelled, Interrupted}

var kindNames = [...]string{
	OK: "ok", Failure: "failure", Usage: "usage", Inventory: "inventory", Check: "check",
	Partial: "partial", RolledBack: "rolled-back", Secrets: "secrets", Eval: "eval", Build: "build",
	AllFailed: "all-failed", Cancelled: "cancelled", Interrupted: "interrupted",
}

func (k Kind) String() string {
	if k >= 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// Error carries a kind and a hint for the user alongside the cause.
type Error struct {
	Kind Kind
	Err  error
	Hint string
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// New wraps err with a kind and an optional hint; a nil err stays nil so
// that callers can wrap a result without checking it first.
func New(kind Kind, err error, hint string) error {
	if err == nil {
		return nil
	}
	return &Error{Kind: kind, Err: err, Hint: hint}
}

// Newf formats a new error of kind with a hint.
func Newf(kind Kind, hint, format string, args ...any) error {
	return &Error{Kind: kind, Err: fmt.Errorf(format, args...), Hint: hint}
}

// Usagef is a usage error with a hint: the user asked for something that
// cannot be done as asked.
func Usagef(hint, format string, args ...any) error {
	return Newf(Usage, hint, format, args...)
}

// ErrCancelled is the cause of every declined confirmation.
var ErrCancelled = errors.New("cancelled")

// Cancel is the error of a declined confirmation: kind Cancelled, reported
// as "cancelled", not as an error. what says what did not happen.
func Cancel(what string) error {
	return &Error{Kind: Cancelled, Err: fmt.Errorf("%w: %s", ErrCancelled, what)}
}

// KindOf classifies err: the kind of the first *Error that errors.As finds
// (depth first, through %w wrapping and errors.Join), Interrupted for a
// cancelled context nobody classified, Failure otherwise, and OK for nil.
func KindOf(err error) Kind {
	if err == nil {
		return OK
	}
	var e *Error
	if errors.As(err, &e) && e.Kind != OK {
		return e.Kind
	}
	if errors.Is(err, context.Canceled) {
		return Interrupted
	}
	return Failure
}

// Outcome is the kind of a run over n items (hosts, profiles) of which
// failed failed: every command that acts on many items ends the same way.
// An interrupted run is Interrupted whatever was done before.
func Outcome(n, failed int, interrupted bool) Kind {
	switch {
	case interrupted:
		return Interrupted
	case failed == 0:
		return OK
	case failed >= n:
		return AllFailed
	default:
		return Partial
	}
}
