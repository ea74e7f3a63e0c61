package deploy

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
)

// A lock left by a deploy from this machine whose process has ended is
// reported as stale; one whose process runs, or from another machine, is
// reported as held.
func TestStaleLockFromThisMachine(t *testing.T) {
	t.Parallel()
	const gone = 1 << 30 // above any pid_max: no such process
	for name, tc := range map[string]struct {
		lock  string
		stale bool
	}{
		"ended here":   {fmt.Sprintf(`{"runId":"old","who":"alice@laptop","action":"switch","pid":%d}`, gone), true},
		"running here": {fmt.Sprintf(`{"runId":"old","who":"alice@laptop","action":"switch","pid":%d}`, os.Getppid()), false},
		"elsewhere":    {fmt.Sprintf(`{"runId":"old","who":"bob@desk","action":"switch","pid":%d}`, gone), false},
	} {
		t.Run(name, func(t *testing.T) {
			r := newRun(t, "hosts:\n  - {name: web, address: 10.0.0.5}\n")
			r.host("web").lock = tc.lock
			web := result(t, r.exec(t, context.Background()), "web")
			stale := strings.Contains(web.Error, "is locked by a deploy that is no longer running")
			if web.Stage != StageLock || stale != tc.stale || !strings.Contains(web.Hint, "--break-lock") {
				t.Errorf("%+v", web)
			}
			if !strings.Contains(r.host("web").lock, `"runId":"old"`) {
				t.Error("the lock must stay until --break-lock")
			}
		})
	}
}
