// Package testutil holds helpers shared by tests: real-part requirements and
// fixture flakes. It is imported only from _test.go files.
package testutil

import (
	"os"
	"os/exec"
	"testing"
)

// InCI reports whether the tests run in CI (CI=true), where every real part
// must be present.
func InCI() bool { return os.Getenv("CI") == "true" }

// Require makes sure each program is on PATH. Locally a missing program skips
// the test; in CI it fails it, so a missing install step cannot hide.
func Require(t testing.TB, programs ...string) {
	t.Helper()
	for _, p := range programs {
		if _, err := exec.LookPath(p); err != nil {
			if InCI() {
				t.Fatalf("%s is required in CI but not on PATH: .ci/run must install it", p)
			}
			t.Skipf("%s not on PATH (CI=true makes this a failure)", p)
		}
	}
}
