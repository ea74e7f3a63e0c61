package deploy

import (
	"context"
	"strings"
)

// message is how a host's error reads in the report: the host is named once,
// in front, by whoever prints the report, and what Go says about a context
// ("context canceled", "context deadline exceeded") is said in words about
// the run.
func (x *executor) message(host string, err error) string {
	msg := strings.TrimPrefix(err.Error(), host+": ")
	why := "the run was cancelled"
	switch {
	case x.parent.Err() != nil:
		why = "the run was interrupted"
	case x.plan.FailFast && x.ctx.Err() != nil:
		why = "another host failed and --fail-fast stopped the run"
	}
	msg = strings.ReplaceAll(msg, context.Canceled.Error(), why)
	return strings.ReplaceAll(msg, context.DeadlineExceeded.Error(), "no answer before the time limit")
}
