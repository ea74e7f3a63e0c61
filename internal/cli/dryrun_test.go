package cli

import (
	"strings"
	"testing"
)

// wantChanges checks the file changes a --dry-run printed on stdout (its
// lines starting with mkdir, create, write or remove): exactly want, in
// that order, each line starting with its want.
func wantChanges(t *testing.T, what, stdout string, want ...string) {
	t.Helper()
	var got []string
	for _, l := range strings.Split(stdout, "\n") {
		for _, verb := range []string{"mkdir ", "create ", "write ", "remove "} {
			if strings.HasPrefix(l, verb) {
				got = append(got, l)
			}
		}
	}
	ok := len(got) == len(want)
	for i := 0; ok && i < len(want); i++ {
		ok = strings.HasPrefix(got[i], want[i])
	}
	if !ok {
		t.Errorf("%s printed the changes:\n%s\nwant, in this order:\n%s", what, strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
