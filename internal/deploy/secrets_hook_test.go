package deploy

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/nixctl/nixctl/internal/exitcode"
	"github.com/nixctl/nixctl/internal/inventory"
)

// A host that would fail to decrypt its secrets stops in the check stage:
// it is never contacted nor activated, the others go on.
func TestCheckStageStopsHostsThatCannotDecrypt(t *testing.T) {
	t.Parallel()
	r := checkedRun(t)
	var asked []string
	hook := func(_ context.Context, hosts []inventory.Host) map[string]error {
		for _, h := range hosts {
			asked = append(asked, h.Name)
		}
		return map[string]error{"c": exitcode.New(exitcode.Secrets, errors.New("secret db: not encrypted for c's key"), "nixctl secrets add-host c")}
	}
	p, err := NewPlan(r.fleet, r.fleet.Hosts, r.opts, routesIn(t, t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	rep := Run(context.Background(), Env{Runner: activating{r.rec, r.net, r.evaluates}, Hosts: r.net, Events: r.ev, Fleet: r.fleet, RunID: "run-1", Who: "alice@laptop", SecretsAccess: hook}, p)
	if !slices.Equal(asked, []string{"a", "c"}) {
		t.Errorf("the hook was asked about %v, want the hosts that passed the check", asked)
	}
	c := result(t, rep, "c")
	if c.Stage != StageCheck || c.Result != ResultFailed || !strings.Contains(c.Error, "not encrypted for c's key") {
		t.Errorf("c: %+v", c)
	}
	if len(r.host("c").ran()) != 0 {
		t.Error("a host that cannot decrypt its secrets was contacted")
	}
	for _, argv := range r.rec.Argvs() {
		if strings.HasPrefix(argv, "nixos-rebuild") && strings.Contains(argv, "#c ") {
			t.Errorf("c was activated: %s", argv)
		}
	}
	if a := result(t, rep, "a"); a.Result != ResultOK {
		t.Errorf("a: %+v", a)
	}
}
