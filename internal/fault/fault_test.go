package fault

import (
	"context"
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

func TestKindOf(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		err  error
		want Kind
	}{
		{"nil", nil, OK},
		{"unclassified", errors.New("x"), Failure},
		{"wrapped", fmt.Errorf("a: %w", New(Secrets, errors.New("x"), "")), Secrets},
		{"joined after an unclassified error", errors.Join(errors.New("x"), New(Inventory, errors.New("y"), "")), Inventory},
		{"the outer kind wins", New(Build, fmt.Errorf("b: %w", New(Check, errors.New("x"), "")), ""), Build},
		{"a cancelled context", fmt.Errorf("ssh: %w", context.Canceled), Interrupted},
		{"a classified cancelled context", New(Usage, context.Canceled, ""), Usage},
		{"an Error of no kind", &Error{Err: errors.New("x")}, Failure},
		{"a declined confirmation", fmt.Errorf("deploy: %w", Cancel("switch a? was not confirmed")), Cancelled},
	} {
		if got := KindOf(tc.err); got != tc.want {
			t.Errorf("%s: KindOf = %v, want %v", tc.name, got, tc.want)
		}
	}
	if err := fmt.Errorf("deploy: %w", Cancel("x")); !errors.Is(err, ErrCancelled) {
		t.Error("a Cancel error is not ErrCancelled")
	}
}

func TestNewKeepsNil(t *testing.T) {
	t.Parallel()
	if New(Check, nil, "hint") != nil {
		t.Error("New(kind, nil, hint) is not nil")
	}
}

func TestEveryKindHasItsOwnName(t *testing.T) {
	t.Parallel()
	seen := map[string]Kind{}
	for _, k := range Kinds {
		name := k.String()
		if prev, dup := seen[name]; dup || name == fmt.Sprintf("kind(%d)", int(k)) {
			t.Errorf("kind %d is named %q (also %d)", int(k), name, int(prev))
		}
		seen[name] = k
	}
	if len(Kinds) != len(kindNames) {
		t.Errorf("%d kinds listed, %d named", len(Kinds), len(kindNames))
	}
}

func TestOutcome(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		n, failed   int
		interrupted bool
		want        Kind
	}{
		{3, 0, false, OK},
		{3, 1, false, Partial},
		{3, 3, false, AllFailed},
		{1, 1, false, AllFailed},
		{3, 0, true, Interrupted},
		{3, 2, true, Interrupted},
	} {
		if got := Outcome(tc.n, tc.failed, tc.interrupted); got != tc.want {
			t.Errorf("Outcome(%d, %d, %v) = %v, want %v", tc.n, tc.failed, tc.interrupted, got, tc.want)
		}
	}
}
