package scaffold

import (
	"bytes"
	"fmt"
	"path/filepath"

	"github.com/nixctl/nixctl/internal/fsx"
	"github.com/nixctl/nixctl/internal/inventory"
)

// Sync is what 'nixctl inventory sync' changes: outputs of the flake that
// the inventory lacks are appended; entries whose output is gone are only
// reported, since removing one is the user's call.
type Sync struct {
	Dir   string  `json:"dir"`
	Added []Entry `json:"added"`
	Gone  []Gone  `json:"gone"`
	// Data is the new nixctl.yaml; nil when nothing is added.
	Data []byte `json:"-"`
}

// Gone is an inventory entry that names an output the flake no longer has.
type Gone struct {
	Kind string `json:"kind"`
	Name string `json:"name"`
	Attr string `json:"attr"`
	Line int    `json:"line"`
}

// PlanSync compares the inventory in dir with the flake's outputs. Existing
// entries, comments and layout stay byte for byte: new entries are inserted
// as text at the end of their list.
func PlanSync(dir string, out *Outputs, lookup SSHLookup) (*Sync, error) {
	path := filepath.Join(dir, inventory.FileName)
	src, err := readRegular(path)
	if err != nil {
		return nil, err
	}
	fleet, err := inventory.ParseAt(inventory.FileName, path, src)
	if err != nil {
		return nil, err
	}
	s := &Sync{Dir: dir, Added: []Entry{}, Gone: []Gone{}}
	taken := map[string]bool{}
	hostAttrs, profileAttrs := map[string]bool{}, map[string]bool{}
	for _, h := range fleet.Hosts {
		taken[h.Name], hostAttrs[h.Attr] = true, true
		if _, ok := out.Hosts[h.Attr]; !ok {
			s.Gone = append(s.Gone, Gone{"host", h.Name, h.Attr, h.Line})
		}
	}
	for _, p := range fleet.Profiles {
		taken[p.Name], profileAttrs[p.Attr] = true, true
		if _, ok := out.Profiles[p.Attr]; !ok {
			s.Gone = append(s.Gone, Gone{"profile", p.Name, p.Attr, p.Line})
		}
	}
	data := src
	for _, attr := range sortedKeys(out.Hosts) {
		if !hostAttrs[attr] {
			e := hostEntry(attr, out.Hosts[attr], lookup, taken)
			if data, err = appendEntry(data, "hosts", e.fields); err != nil {
				return nil, err
			}
			s.Added = append(s.Added, e)
		}
	}
	for _, attr := range sortedKeys(out.Profiles) {
		if !profileAttrs[attr] {
			e := profileEntry(attr, out.Profiles[attr], taken)
			if data, err = appendEntry(data, "profiles", e.fields); err != nil {
				return nil, err
			}
			s.Added = append(s.Added, e)
		}
	}
	if bytes.Equal(data, src) {
		return s, nil
	}
	after, err := inventory.ParseAt(inventory.FileName, path, data)
	if err != nil {
		return nil, fmt.Errorf("the synced %s would not be valid (nothing was written): %w", inventory.FileName, err)
	}
	if len(after.Hosts)+len(after.Profiles) != len(fleet.Hosts)+len(fleet.Profiles)+len(s.Added) {
		return nil, fmt.Errorf("the synced %s does not list every new entry (nothing was written); add them by hand", inventory.FileName)
	}
	s.Data = data
	return s, nil
}

// Write replaces nixctl.yaml with the synced text, through w. Like an
// add, it edits only a regular file (see Plan.Apply).
func (s *Sync) Write(w fsx.Writer) error {
	if s.Data == nil {
		return nil
	}
	return (&Plan{Dir: s.Dir, Rewrite: []File{{Path: inventory.FileName, Data: s.Data}}}).Apply(w)
}
