package cli

import (
	"strings"
	"testing"

	"github.com/nixctl/nixctl/internal/exitcode"
	"github.com/nixctl/nixctl/internal/fault"
	"github.com/nixctl/nixctl/internal/ui"
)

// The report's fields follow "ok", unescaped; a failed report exits with
// the code given, after printing.
func TestPrintVerdictJSON(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		ok     bool
		report any
		want   string
		code   int
	}{
		{true, struct {
			Files []string `json:"files"`
		}{[]string{"a<b>.yaml"}}, "{\n  \"ok\": true,\n  \"files\": [\n    \"a<b>.yaml\"\n  ]\n}\n", exitcode.OK},
		{false, struct{}{}, "{\n  \"ok\": false\n}\n", exitcode.Secrets},
	} {
		var out strings.Builder
		io := &ui.IO{Out: &out}
		err := printVerdictJSON(io, tc.ok, tc.report, fault.Secrets)
		if out.String() != tc.want || exitcode.Code(err) != tc.code {
			t.Errorf("ok=%v: exit %d, printed\n%s\nwant\n%s", tc.ok, exitcode.Code(err), out.String(), tc.want)
		}
	}
}
