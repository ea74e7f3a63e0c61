// Package exitcode owns nixctl's exit codes and the error type that carries
// one, with an optional hint, up to the CLI. The table here is the one README
// documents; CI pipelines rely on it, so codes never change meaning.
package exitcode

import (
	"context"
	"errors"
	"fmt"
)

// Exit codes. Keep in sync with README's table.
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

// Error carries an exit code and a hint for the user alongside the cause.
type Error struct {
	Code int
	Err  error
	Hint string
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// New wraps err with an exit code and an optional hint.
func New(code int, err error, hint string) error {
	if err == nil {
		return nil
	}
	return &Error{Code: code, Err: err, Hint: hint}
}

// Newf formats a new error with an exit code and hint.
func Newf(code int, hint, format string, args ...any) error {
	return &Error{Code: code, Err: fmt.Errorf(format, args...), Hint: hint}
}

// UsageErrorf is a usage error (exit 2) with a hint.
func UsageErrorf(hint, format string, args ...any) error {
	return Newf(Usage, hint, format, args...)
}

// Hinter is implemented by errors that know what the user should do next.
type Hinter interface{ Hint() string }

// Code classifies err into an exit code.
func Code(err error) int {
	if err == nil {
		return OK
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	if errors.Is(err, context.Canceled) {
		return Interrupted
	}
	return Failure
}

// HintOf returns the first hint found in err's tree, depth first in the
// order errors.As visits it: through %w wrapping, several %w in one
// fmt.Errorf, and errors.Join.
func HintOf(err error) string {
	if err == nil {
		return ""
	}
	if e, ok := err.(*Error); ok && e.Hint != "" {
		return e.Hint
	}
	if h, ok := err.(Hinter); ok && h.Hint() != "" {
		return h.Hint()
	}
	switch u := err.(type) {
	case interface{ Unwrap() error }:
		return HintOf(u.Unwrap())
	case interface{ Unwrap() []error }:
		for _, e := range u.Unwrap() {
			if h := HintOf(e); h != "" {
				return h
			}
		}
	}
	return ""
}

// ErrCancelled is the cause of every declined confirmation.
var ErrCancelled = errors.New("cancelled")

// Cancel is the error of a declined confirmation: exit Cancelled, reported
// as "cancelled", not as an error. what says what did not happen.
func Cancel(what string) error {
	return &Error{Code: Cancelled, Err: fmt.Errorf("%w: %s", ErrCancelled, what)}
}
