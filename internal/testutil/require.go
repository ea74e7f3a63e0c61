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

// requireRoot stops a test that needs root: a skip locally, a failure in CI
// (which runs as root).
func requireRoot(t testing.TB, why string) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if InCI() {
		t.Fatalf("%s: needs root; CI runs as root", why)
	}
	t.Skipf("%s: needs root (CI=true makes this a failure)", why)
}
