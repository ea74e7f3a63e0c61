package hostops

import (
	"fmt"
	"strings"
)

// Exit codes of the host scripts: one table for all of them, written out in
// each script's header (a test keeps the two the same). The numbers come
// from sysexits.h where one fits, so they stay apart from what the commands
// a script runs exit with.
const (
	ExitOK           = 0
	ExitFailed       = 1
	ExitNoGeneration = 66 // EX_NOINPUT
	ExitNoNix        = 69 // EX_UNAVAILABLE
	ExitRestored     = 70 // EX_SOFTWARE
	ExitDeploying    = 73 // EX_CANTCREAT
	ExitHeld         = 75 // EX_TEMPFAIL
	ExitNoSudo       = 77 // EX_NOPERM
)

// exitTable is what each code means, in the words of the scripts' headers.
var exitTable = []struct {
	Code    int
	Meaning string
}{
	{ExitOK, "done"},
	{ExitFailed, "failed; the reason is on stderr"},
	{ExitNoGeneration, "the generation is missing, or there are no generations"},
	{ExitNoNix, "nix is not on the PATH"},
	{ExitRestored, "the activation failed and the previous generation is current again"},
	{ExitDeploying, "a deploy holds the host; its lock record is on stderr"},
	{ExitHeld, "the lock is held: by another run (its record on stdout), or for longer than the wait"},
	{ExitNoSudo, "sudo -n refused to run"},
}

// exitTableHeader is the exit-code comment every script carries.
func exitTableHeader() string {
	var b strings.Builder
	b.WriteString("# Exit codes (the one table for every nixctl host script; internal/hostops/exitcodes.go):\n")
	for _, e := range exitTable {
		fmt.Fprintf(&b, "#   %-3d %s\n", e.Code, e.Meaning)
	}
	return b.String()
}
