package inventory

import (
	"time"

	"go.yaml.in/yaml/v3"
)

// optBool is a boolean that may be left out (nil).
func (d *decoder) optBool(n *yaml.Node, field string) *bool {
	b := d.boolean(n, field)
	return &b
}

// duration is a positive Go duration such as 30s or 2m.
func (d *decoder) duration(n *yaml.Node, field string) time.Duration {
	s := d.str(n, field)
	t, err := time.ParseDuration(s)
	if err != nil || t <= 0 {
		d.addf(n.Line, field, "must be a duration like 30s or 2m, got %q", s)
		return 0
	}
	return t
}

// MagicRollbackOn reports whether the host rolls itself back when nixctl
// cannot confirm a switch or test (on unless magicRollback: false).
func (h Host) MagicRollbackOn() bool { return h.MagicRollback == nil || *h.MagicRollback }
