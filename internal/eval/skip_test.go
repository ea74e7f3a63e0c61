package eval

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/nixctl/nixctl/internal/execx"
)

// An evaluation its caller can do without stops at once in a dry run: no
// item is evaluated alone after its chunk was skipped, and the dry run says
// so once.
func TestSkippableEvaluationStopsInADryRun(t *testing.T) {
	t.Parallel()
	inner := &execx.Recorder{}
	var out bytes.Buffer
	var items []Item
	for i := range 250 {
		items = append(items, Host(fmt.Sprintf("h%d", i)))
	}
	_, err := Run(context.Background(), execx.NewDryRun(inner, &out), items, Options{Flake: "/fleet", Dir: "/fleet", Skippable: "pinning derivations"})
	if !errors.Is(err, execx.ErrSkipped) {
		t.Fatalf("err = %v, want ErrSkipped", err)
	}
	if len(inner.Calls()) != 0 || out.String() != "# not run in a dry run: pinning derivations\n" {
		t.Errorf("ran %v, printed %q", inner.Argvs(), out.String())
	}
}
