package inventory

import (
	"fmt"
	"strings"
)

// Problem is one thing wrong with the inventory.
type Problem struct {
	File  string `json:"file"`
	Line  int    `json:"line,omitempty"`
	Field string `json:"field"`
	Msg   string `json:"message"`
}

func (p Problem) String() string {
	loc := p.File
	if p.Line > 0 {
		loc = fmt.Sprintf("%s:%d", p.File, p.Line)
	}
	if p.Field == "" {
		return loc + ": " + p.Msg
	}
	return fmt.Sprintf("%s: %s: %s", loc, p.Field, p.Msg)
}

// ValidationError lists every problem found in one read of the file.
type ValidationError struct {
	File     string
	Problems []Problem
}

func (e *ValidationError) Error() string {
	if len(e.Problems) == 1 {
		return "invalid inventory: " + e.Problems[0].String()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "invalid inventory: %d problems:", len(e.Problems))
	for _, p := range e.Problems {
		b.WriteString("\n  " + p.String())
	}
	return b.String()
}

// Hint tells the user where the schema is described.
func (e *ValidationError) Hint() string {
	return "fix " + e.File + " (the inventory reference is in nixctl's README, or run 'nixctl inventory check' after each edit)"
}
