package inventory

import (
	"fmt"
	"path"
	"strings"

	"github.com/nixctl/nixctl/internal/fault"
)

// IsGlob reports whether a selector is a glob pattern.
func IsGlob(s string) bool { return strings.ContainsAny(s, "*?[") }

// SelectHosts returns the hosts matching any selector (a name, a glob such as
// nixos-*, or @tag), in inventory order, each once. all selects every host.
func (f *Fleet) SelectHosts(selectors []string, all bool) ([]Host, error) {
	names := make([]string, len(f.Hosts))
	tags := make([][]string, len(f.Hosts))
	for i, h := range f.Hosts {
		names[i], tags[i] = h.Name, h.Tags
	}
	if err := f.wrongKind(selectors, "host"); err != nil {
		return nil, err
	}
	idx, err := selectIndexes("host", names, tags, selectors, all)
	if err != nil {
		return nil, err
	}
	out := make([]Host, 0, len(idx))
	for _, i := range idx {
		out = append(out, f.Hosts[i])
	}
	return out, nil
}

// SelectProfiles is SelectHosts for Home Manager profiles.
func (f *Fleet) SelectProfiles(selectors []string, all bool) ([]Profile, error) {
	names := make([]string, len(f.Profiles))
	tags := make([][]string, len(f.Profiles))
	for i, p := range f.Profiles {
		names[i], tags[i] = p.Name, p.Tags
	}
	if err := f.wrongKind(selectors, "profile"); err != nil {
		return nil, err
	}
	idx, err := selectIndexes("profile", names, tags, selectors, all)
	if err != nil {
		return nil, err
	}
	out := make([]Profile, 0, len(idx))
	for _, i := range idx {
		out = append(out, f.Profiles[i])
	}
	return out, nil
}

// wrongKind names a selector that is the other kind's name: "deploy laptop"
// where laptop is a profile would otherwise read "unknown host".
func (f *Fleet) wrongKind(selectors []string, want string) error {
	for _, sel := range selectors {
		if want == "host" {
			if _, ok := f.Host(sel); ok {
				continue
			}
			if _, ok := f.Profile(sel); ok {
				return fault.Usagef(fmt.Sprintf("'nixctl home switch %s' switches a profile; 'nixctl deploy' takes hosts", sel),
					"%q is a Home Manager profile, not a NixOS host", sel)
			}
			continue
		}
		if _, ok := f.Profile(sel); ok {
			continue
		}
		if _, ok := f.Host(sel); ok {
			hint := fmt.Sprintf("'nixctl deploy %s' deploys a host; 'nixctl home' takes profiles", sel)
			var on []string
			for _, p := range f.Profiles {
				if p.Host == sel {
					on = append(on, p.Name)
				}
			}
			if len(on) > 0 {
				hint = fmt.Sprintf("the profiles on %s are %s; 'nixctl deploy %s' deploys the host itself", sel, strings.Join(on, ", "), sel)
			}
			return fault.Usagef(hint, "%q is a NixOS host, not a Home Manager profile", sel)
		}
	}
	return nil
}

func selectIndexes(kind string, names []string, tags [][]string, selectors []string, all bool) ([]int, error) {
	if all {
		if len(selectors) > 0 {
			return nil, fault.Usagef("drop the names, or drop --all", "--all selects every %s; it takes no names as well", kind)
		}
		idx := make([]int, len(names))
		for i := range names {
			idx[i] = i
		}
		return idx, nil
	}
	picked := make([]bool, len(names))
	for _, sel := range selectors {
		if err := ValidateSelector(sel); err != nil {
			return nil, err
		}
		matched := false
		switch {
		case strings.HasPrefix(sel, "@"):
			tag := sel[1:]
			for i, ts := range tags {
				for _, t := range ts {
					if t == tag {
						picked[i], matched = true, true
					}
				}
			}
			if !matched {
				var known []string
				for _, ts := range tags {
					known = append(known, ts...)
				}
				return nil, fault.Usagef(tagHint(tag, known), "no %s has the tag %q", kind, tag)
			}
		case IsGlob(sel):
			for i, n := range names {
				if ok, _ := path.Match(sel, n); ok {
					picked[i], matched = true, true
				}
			}
			if !matched {
				return nil, fault.Usagef(listHint(kind, names), "no %s matches %q", kind, sel)
			}
		default:
			for i, n := range names {
				if n == sel {
					picked[i], matched = true, true
				}
			}
			if !matched {
				hint := listHint(kind, names)
				if c := Closest(sel, names, 3); len(c) > 0 {
					hint = "did you mean " + strings.Join(quoteAll(c), " or ") + "?"
				}
				return nil, fault.Usagef(hint, "unknown %s %q", kind, sel)
			}
		}
	}
	var idx []int
	for i, p := range picked {
		if p {
			idx = append(idx, i)
		}
	}
	return idx, nil
}

// ValidateSelector refuses selectors that cannot name anything: empty, with
// control characters, or malformed globs.
func ValidateSelector(sel string) error {
	if sel == "" || sel == "@" {
		return fault.Usagef("a selector is a name, a glob such as 'nixos-*', or @tag", "empty selector")
	}
	for _, r := range sel {
		if r < 0x20 || r == 0x7f {
			return fault.Usagef("a selector is a name, a glob such as 'nixos-*', or @tag", "selector %q has control characters", sel)
		}
	}
	if IsGlob(sel) {
		if _, err := path.Match(sel, ""); err != nil {
			return fault.Usagef("globs use * ? and [a-z] as in the shell", "bad glob %q: %v", sel, err)
		}
	}
	return nil
}

func tagHint(tag string, known []string) string {
	if c := Closest(tag, known, 1); len(c) > 0 {
		return fmt.Sprintf("did you mean @%s?", c[0])
	}
	if len(known) == 0 {
		return "no entry has tags; add tags: [...] in nixctl.yaml"
	}
	return "known tags: @" + strings.Join(sortedUnique(known), ", @")
}

func listHint(kind string, names []string) string {
	if len(names) == 0 {
		return fmt.Sprintf("the inventory has no %ss", kind)
	}
	if len(names) > 10 {
		names = append(names[:10:10], "…")
	}
	return fmt.Sprintf("known %ss: %s", kind, strings.Join(names, ", "))
}

func quoteAll(s []string) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[i] = fmt.Sprintf("%q", v)
	}
	return out
}

func sortedUnique(s []string) []string {
	out := sortedCopy(s)
	w := 0
	for i, v := range out {
		if i == 0 || v != out[w-1] {
			out[w] = v
			w++
		}
	}
	return out[:w]
}
