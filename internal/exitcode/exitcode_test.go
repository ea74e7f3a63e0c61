package exitcode

import (
	"errors"
	"fmt"
	"testing"

	"github.com/nixctl/nixctl/internal/fault"
)

// Each kind has its own code, and only Failure and unknown kinds share 1, so
// a kind added to fault without a code here fails this test.
func TestEveryKindHasItsOwnCode(t *testing.T) {
	t.Parallel()
	seen := map[int]fault.Kind{}
	for _, k := range fault.Kinds {
		code := For(k)
		if prev, dup := seen[code]; dup {
			t.Errorf("kinds %v and %v both exit %d", prev, k, code)
		}
		seen[code] = k
	}
	if For(fault.Kind(len(fault.Kinds)+7)) != Failure {
		t.Error("an unknown kind does not exit Failure")
	}
}

func TestCode(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		err  error
		want int
	}{
		{nil, OK},
		{errors.New("x"), Failure},
		{fmt.Errorf("deploy: %w", fault.Cancel("switch a? was not confirmed")), Cancelled},
		{errors.Join(errors.New("x"), fault.New(fault.Inventory, errors.New("y"), "")), Inventory},
		{fault.Usagef("", "bad"), Usage},
	} {
		if got := Code(tc.err); got != tc.want {
			t.Errorf("Code(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
}
