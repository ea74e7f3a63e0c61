package inventory

import (
	"strings"
	"testing"

	"github.com/nixctl/nixctl/internal/fault"
)

func testFleet(t *testing.T) *Fleet {
	t.Helper()
	f, err := Parse("/r/nixctl.yaml", []byte(`
hosts:
  - {name: nixos-mini, address: a, tags: [cluster, k0s]}
  - {name: nixos-node-1, address: b, tags: [cluster]}
  - {name: gateway, address: c, tags: [edge]}
profiles:
  - {name: laptop}
  - {name: server, tags: [servers]}
`))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func names(hs []Host) string {
	var out []string
	for _, h := range hs {
		out = append(out, h.Name)
	}
	return strings.Join(out, ",")
}

func TestSelectHosts(t *testing.T) {
	t.Parallel()
	f := testFleet(t)
	cases := []struct {
		sel  []string
		all  bool
		want string
	}{
		{[]string{"gateway"}, false, "gateway"},
		{[]string{"nixos-*"}, false, "nixos-mini,nixos-node-1"},
		{[]string{"@cluster"}, false, "nixos-mini,nixos-node-1"},
		{[]string{"gateway", "@k0s", "nixos-mini"}, false, "nixos-mini,gateway"}, // inventory order, once each
		{nil, true, "nixos-mini,nixos-node-1,gateway"},
		{[]string{"nixos-?ini"}, false, "nixos-mini"},
	}
	for _, c := range cases {
		got, err := f.SelectHosts(c.sel, c.all)
		if err != nil {
			t.Errorf("%v: %v", c.sel, err)
			continue
		}
		if names(got) != c.want {
			t.Errorf("%v = %s, want %s", c.sel, names(got), c.want)
		}
	}
}

func TestSelectErrors(t *testing.T) {
	t.Parallel()
	f := testFleet(t)
	cases := []struct {
		sel       []string
		all       bool
		msg, hint string
	}{
		{[]string{"nixos-mimi"}, false, `unknown host "nixos-mimi"`, `did you mean "nixos-mini"`},
		{[]string{"@clustr"}, false, `no host has the tag "clustr"`, "did you mean @cluster?"},
		{[]string{"web-*"}, false, `no host matches "web-*"`, "known hosts: nixos-mini"},
		{[]string{"a"}, true, "--all selects every host", "drop the names"},
		{[]string{"[a-"}, false, "bad glob", "globs use"},
		{[]string{""}, false, "empty selector", "a selector is"},
		{[]string{"x\ny"}, false, "control characters", ""},
	}
	for _, c := range cases {
		_, err := f.SelectHosts(c.sel, c.all)
		if err == nil {
			t.Errorf("%q: want an error", c.sel)
			continue
		}
		if fault.KindOf(err) != fault.Usage {
			t.Errorf("%q: kind %v, want usage", c.sel, fault.KindOf(err))
		}
		if !strings.Contains(err.Error(), c.msg) || !strings.Contains(fault.HintOf(err), c.hint) {
			t.Errorf("%q: got %q hint %q", c.sel, err, fault.HintOf(err))
		}
	}
}

func TestSelectProfiles(t *testing.T) {
	t.Parallel()
	f := testFleet(t)
	got, err := f.SelectProfiles([]string{"@servers"}, false)
	if err != nil || len(got) != 1 || got[0].Name != "server" {
		t.Fatalf("got %v, %v", got, err)
	}
	if _, err := f.SelectProfiles([]string{"laptp"}, false); err == nil || !strings.Contains(fault.HintOf(err), `"laptop"`) {
		t.Errorf("want a suggestion, got %v", err)
	}
}

func TestClosest(t *testing.T) {
	t.Parallel()
	if got := Closest("paralel", []string{"parallel", "port", "user"}, 1); len(got) != 1 || got[0] != "parallel" {
		t.Errorf("got %v", got)
	}
	if got := Closest("zzzzzz", []string{"parallel", "port"}, 1); len(got) != 0 {
		t.Errorf("unrelated words must not be suggested: %v", got)
	}
}
