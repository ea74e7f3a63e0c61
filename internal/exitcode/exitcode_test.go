package exitcode

import (
	"errors"
	"fmt"
	"testing"
)

type hinted struct{ msg, hint string }

func (h hinted) Error() string { return h.msg }
func (h hinted) Hint() string  { return h.hint }

func TestHintOfFindsHintsThroughWrapsAndJoins(t *testing.T) {
	t.Parallel()
	plain := errors.New("plain")
	coded := New(Usage, errors.New("bad"), "use --x")
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"nil", nil, ""},
		{"none", fmt.Errorf("a: %w", plain), ""},
		{"wrapped twice", fmt.Errorf("a: %w", fmt.Errorf("b: %w", coded)), "use --x"},
		{"joined after a hintless error", errors.Join(plain, fmt.Errorf("c: %w", coded)), "use --x"},
		{"joined inside a wrap", fmt.Errorf("run: %w", errors.Join(plain, hinted{"h", "from Hinter"})), "from Hinter"},
		{"two %w, the second hinted", fmt.Errorf("%w and %w", plain, coded), "use --x"},
		{"an Error without a hint wraps a Hinter", New(Check, hinted{"h", "inner"}, ""), "inner"},
		{"the first of two hints", errors.Join(hinted{"a", "first"}, coded), "first"},
	} {
		if got := HintOf(tc.err); got != tc.want {
			t.Errorf("%s: HintOf = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestCodeAndCancel(t *testing.T) {
	t.Parallel()
	err := fmt.Errorf("deploy: %w", Cancel("switch a? was not confirmed"))
	if Code(err) != Cancelled || !errors.Is(err, ErrCancelled) {
		t.Errorf("Code = %d, Is(ErrCancelled) = %v", Code(err), errors.Is(err, ErrCancelled))
	}
	if got := Code(errors.Join(errors.New("x"), New(Inventory, errors.New("y"), ""))); got != Inventory {
		t.Errorf("Code of a join = %d, want %d", got, Inventory)
	}
}
