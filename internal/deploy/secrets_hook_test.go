package deploy

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/nixctl/nixctl/internal/eval"
	"github.com/nixctl/nixctl/internal/fault"
	"github.com/nixctl/nixctl/internal/inventory"
	"github.com/nixctl/nixctl/internal/testutil"
)

// A host that would fail to decrypt its secrets stops in the check stage:
// it is never contacted nor activated, the others go on.
func TestCheckStageStopsHostsThatCannotDecrypt(t *testing.T) {
	t.Parallel()
	r := checkedRun(t)
	// The declarations come from the same nix process as the toplevels,
	// through builtins.getFlake.
	r.rec.RegisterStub(testutil.EvalFlakeStub(map[string]testutil.EvalAnswer{
		"a": {DrvPath: "/nix/store/aaaa-nixos-system-a.drv", Value: `{"uses":"a.yaml"}`},
		"b": {Failed: true},
		"c": {DrvPath: "/nix/store/cccc-nixos-system-c.drv", Value: `{"uses":"c.yaml"}`},
	}))
	var asked, values []string
	hook := &SecretsAccess{
		Item: func(h inventory.Host) eval.Item {
			return eval.Item{Output: eval.OutputNixOS, Attr: h.Attr, Apply: "root: m: m.secrets"}
		},
		Check: func(_ context.Context, hosts []inventory.Host, evaluated []eval.Result) map[string]error {
			for i, h := range hosts {
				asked = append(asked, h.Name)
				values = append(values, string(evaluated[i].Value))
			}
			return map[string]error{"c": fault.New(fault.Secrets, errors.New("secret db: not encrypted for c's key"), "nixctl secrets add-host c")}
		},
	}
	p, err := NewPlan(r.fleet, r.fleet.Hosts, r.opts, routesIn(t, t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	rep := Run(context.Background(), Env{Runner: activating{r.rec, r.net, r.evaluates}, Hosts: r.net, Events: r.ev, Fleet: r.fleet, RunID: "run-1", Who: "alice@laptop", SecretsAccess: hook}, p)
	if !slices.Equal(asked, []string{"a", "c"}) {
		t.Errorf("the hook was asked about %v, want the hosts that passed the check", asked)
	}
	if !slices.Equal(values, []string{`{"uses":"a.yaml"}`, `{"uses":"c.yaml"}`}) {
		t.Errorf("the hook got %v, want each host's own evaluated declarations", values)
	}
	// One process evaluated every toplevel and every declaration; only b,
	// which failed there, was evaluated again, alone, for its error.
	var evals []string
	for _, argv := range r.rec.Argvs() {
		if strings.HasPrefix(argv, "nix eval") {
			evals = append(evals, argv)
		}
	}
	bad := len(evals) == 0 || !strings.Contains(evals[0], "builtins.getFlake")
	for _, name := range []string{"a", "b", "c"} {
		bad = bad || strings.Count(evals[0], `"`+name+`"`) != 2
	}
	for _, e := range evals[1:] {
		bad = bad || !strings.Contains(e, `."b"`) || strings.Contains(e, `"a"`) || strings.Contains(e, `"c"`)
	}
	if bad {
		t.Errorf("want one evaluation of the toplevels and declarations of a, b and c through builtins.getFlake, then only b alone, got:\n%s", strings.Join(evals, "\n"))
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
