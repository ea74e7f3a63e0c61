package scaffold

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/nixctl/nixctl/internal/fsx"
	"github.com/nixctl/nixctl/internal/inventory"
)

// HostSpec is a new NixOS host.
type HostSpec struct {
	Name    string
	Address string
	// User overrides the inventory's defaults.user for this host ("" = inherit).
	User string
	Tags []string
}

// ProfileSpec is a new Home Manager profile.
type ProfileSpec struct {
	Name string
	// User is the profile's account ("" = the inventory's defaults.user).
	User string
	// Host runs the profile on a host of the inventory ("" = this machine).
	Host string
	Tags []string
}

// Plan is what an add command will do: files to create and files to rewrite.
type Plan struct {
	Dir     string
	Create  []File
	Rewrite []File
	// FlakeEntry is the line added to flake.nix.
	FlakeEntry string
}

// Paths lists every file the plan touches, relative to Dir.
func (p *Plan) Paths() []string {
	var out []string
	for _, f := range p.Create {
		out = append(out, f.Path)
	}
	for _, f := range p.Rewrite {
		out = append(out, f.Path)
	}
	return out
}

// Apply writes the plan through w: new files first (never over an existing
// one), then the edited flake.nix and nixctl.yaml, each replaced whole. If a
// write fails, what was written is undone, so the repository is as it was
// before. A file to edit must still be a regular file: renaming over a link
// or a device (/dev/null once) breaks more than the repository.
func (p *Plan) Apply(w fsx.Writer) (err error) {
	for _, f := range p.Rewrite {
		path := filepath.Join(p.Dir, filepath.FromSlash(f.Path))
		st, err := os.Lstat(path)
		if err != nil {
			return err
		}
		if !st.Mode().IsRegular() {
			return fmt.Errorf("%s is not a regular file; nixctl only edits regular files", path)
		}
	}
	var created []string
	var replaced []File
	defer func() {
		if err == nil {
			return
		}
		for _, f := range replaced {
			_ = w.WriteFile(filepath.Join(p.Dir, filepath.FromSlash(f.Path)), f.Data, 0o644)
		}
		for i := len(created) - 1; i >= 0; i-- {
			_ = w.Remove(created[i])
			// The folders made for it go too, when nothing else is in them.
			for d := filepath.Dir(created[i]); d != p.Dir && strings.HasPrefix(d, p.Dir); d = filepath.Dir(d) {
				if w.Remove(d) != nil {
					break
				}
			}
		}
	}()
	for _, f := range p.Create {
		path := filepath.Join(p.Dir, filepath.FromSlash(f.Path))
		if err := w.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := w.CreateFile(path, f.Data, f.Mode); err != nil {
			return err
		}
		created = append(created, path)
	}
	for _, f := range p.Rewrite {
		path := filepath.Join(p.Dir, filepath.FromSlash(f.Path))
		old, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if err := w.WriteFile(path, f.Data, 0o644); err != nil {
			return err
		}
		replaced = append(replaced, File{Path: f.Path, Data: old})
	}
	return nil
}

// PlanHost computes everything `nixctl host add` writes in the repository at
// dir, or an error saying why nothing may be written.
func PlanHost(dir string, tmpl fs.FS, h HostSpec) (*Plan, error) {
	if err := checkEntry(h.Name, h.User, h.Tags, "host"); err != nil {
		return nil, err
	}
	if msg := inventory.CheckAddress(h.Address); msg != "" {
		return nil, fmt.Errorf("--address: %s", msg)
	}
	if msg := checkNixName(h.Name); msg != "" {
		return nil, fmt.Errorf("host name: %s", msg)
	}
	repo, err := readRepo(dir)
	if err != nil {
		return nil, err
	}
	if _, ok := repo.fleet.Host(h.Name); ok {
		return nil, &ExistsError{Kind: "host", Name: h.Name, File: inventory.FileName}
	}
	// The new host's files come from the template's reference host, renamed,
	// with the repository's release as the host's stateVersion.
	repl := hostReplacer(h.Name, releaseOf(repo.flake))
	var create []File
	for _, name := range []string{"configuration.nix", "hardware-configuration.nix"} {
		data, err := fs.ReadFile(tmpl, path.Join("hosts", TemplateNames.Host, name))
		if err != nil {
			return nil, fmt.Errorf("reading the template: %w", err)
		}
		create = append(create, File{Path: path.Join("hosts", h.Name, name), Data: []byte(repl.Replace(string(data))), Mode: 0o644})
	}
	fields := []field{{Key: "name", Value: h.Name}, {Key: "address", Value: h.Address}}
	if h.User != "" {
		fields = append(fields, field{Key: "user", Value: h.User})
	}
	if len(h.Tags) > 0 {
		fields = append(fields, field{Key: "tags", List: h.Tags})
	}
	return repo.plan(create, hostMarker, "hosts", h.Name, fields, func(f *inventory.Fleet) bool { _, ok := f.Host(h.Name); return ok })
}

// PlanProfile computes everything `nixctl profile add` writes.
func PlanProfile(dir string, p ProfileSpec) (*Plan, error) {
	if err := checkEntry(p.Name, p.User, p.Tags, "profile"); err != nil {
		return nil, err
	}
	if msg := checkNixName(p.Name); msg != "" {
		return nil, fmt.Errorf("profile name: %s", msg)
	}
	repo, err := readRepo(dir)
	if err != nil {
		return nil, err
	}
	if _, ok := repo.fleet.Profile(p.Name); ok {
		return nil, &ExistsError{Kind: "profile", Name: p.Name, File: inventory.FileName}
	}
	if p.Host != "" {
		if _, ok := repo.fleet.Host(p.Host); !ok {
			return nil, fmt.Errorf("--host: no host named %q in %s", p.Host, inventory.FileName)
		}
	}
	create := []File{{Path: path.Join("home", p.Name+".nix"), Data: []byte(profileModule(p)), Mode: 0o644}}
	fields := []field{{Key: "name", Value: p.Name}}
	if p.User != "" {
		fields = append(fields, field{Key: "user", Value: p.User})
	}
	if p.Host != "" {
		fields = append(fields, field{Key: "host", Value: p.Host})
	}
	if len(p.Tags) > 0 {
		fields = append(fields, field{Key: "tags", List: p.Tags})
	}
	return repo.plan(create, profileMarker, "profiles", p.Name, fields, func(f *inventory.Fleet) bool { _, ok := f.Profile(p.Name); return ok })
}

// profileModule is home/NAME.nix: the shared profile, or the server one for
// a profile that runs on a host of the fleet.
func profileModule(p ProfileSpec) string {
	base, what := "./common.nix", "the shared profile (home/common.nix)"
	if p.Host != "" {
		base, what = "./server/common.nix", "the server profile (home/server/common.nix)"
	}
	return fmt.Sprintf(`# The %s profile: %s, plus what is added here.
{ pkgs, ... }:
{
  imports = [ %s ];

  home.packages = with pkgs; [ ];
}
`, p.Name, what, base)
}

func hostReplacer(name, release string) *strings.Replacer {
	n := TemplateNames
	n.Host = name
	if release != "" {
		n.Release = release
	}
	return n.replacer()
}

var flakeReleaseRe = regexp.MustCompile(`nixpkgs/nixos-([0-9]{2}\.(?:05|11))"`)

// releaseOf finds the NixOS release flake.nix pins ("" if it pins none).
func releaseOf(flake []byte) string {
	if m := flakeReleaseRe.FindSubmatch(flake); m != nil {
		return string(m[1])
	}
	return ""
}

func checkEntry(name, user string, tags []string, kind string) error {
	var errs []error
	if msg := inventory.CheckName(name); msg != "" {
		errs = append(errs, fmt.Errorf("%s name: %s", kind, msg))
	}
	if user != "" {
		if msg := inventory.CheckUser(user); msg != "" {
			errs = append(errs, fmt.Errorf("--user: %s", msg))
		}
	}
	for _, t := range tags {
		if msg := inventory.CheckTag(t); msg != "" {
			errs = append(errs, fmt.Errorf("--tags: %s", msg))
		}
	}
	return joinErrors(errs)
}

// ExistsError refuses a name the inventory already has.
type ExistsError struct{ Kind, Name, File string }

func (e *ExistsError) Error() string {
	return fmt.Sprintf("%s %q already exists in %s", e.Kind, e.Name, e.File)
}

// Hint says what to do instead.
func (e *ExistsError) Hint() string {
	if e.File == "flake.nix" {
		return fmt.Sprintf("pick another name, or list the flake's existing %s in nixctl.yaml by hand", e.Kind)
	}
	return fmt.Sprintf("pick another name, or edit the existing %s ('nixctl inventory show %s')", e.Kind, e.Name)
}

// repo is a fleet repository read for an edit.
type repo struct {
	dir       string
	flake     []byte
	inventory []byte
	fleet     *inventory.Fleet
}

func readRepo(dir string) (*repo, error) {
	r := &repo{dir: dir}
	var err error
	if r.inventory, err = readRegular(filepath.Join(dir, inventory.FileName)); err != nil {
		return nil, err
	}
	if r.flake, err = readRegular(filepath.Join(dir, "flake.nix")); err != nil {
		return nil, err
	}
	if r.fleet, err = inventory.ParseAt(inventory.FileName, filepath.Join(dir, inventory.FileName), r.inventory); err != nil {
		return nil, err
	}
	return r, nil
}

func readRegular(p string) ([]byte, error) {
	st, err := os.Stat(p)
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() || st.Size() > inventory.MaxFileSize {
		return nil, fmt.Errorf("%s is not a regular file of at most %d bytes", p, inventory.MaxFileSize)
	}
	return os.ReadFile(p)
}

// plan finishes an add: the flake entry, the inventory entry (checked by
// parsing the result), and the new files, none of which may exist.
func (r *repo) plan(create []File, marker, key, name string, fields []field, present func(*inventory.Fleet) bool) (*Plan, error) {
	flake, entry, err := insertFlakeEntry(r.flake, marker, name)
	if errors.Is(err, errDefined) {
		return nil, &ExistsError{Kind: strings.TrimSuffix(key, "s"), Name: name, File: "flake.nix"}
	}
	if err != nil {
		return nil, &MarkerError{Err: err, Marker: marker, Example: flakeEntry(defaultPatterns[marker], name)}
	}
	inv, err := appendEntry(r.inventory, key, fields)
	if err != nil {
		return nil, err
	}
	fleet, err := inventory.ParseAt(inventory.FileName, filepath.Join(r.dir, inventory.FileName), inv)
	if err != nil {
		return nil, fmt.Errorf("the edited %s would not be valid (nothing was written): %w", inventory.FileName, err)
	}
	if !present(fleet) {
		return nil, fmt.Errorf("the edited %s does not list %s %q (nothing was written); add it by hand", inventory.FileName, key, name)
	}
	if c := Conflicts(r.dir, create); len(c) > 0 {
		return nil, &ConflictError{Dir: r.dir, Paths: c}
	}
	return &Plan{
		Dir:        r.dir,
		Create:     create,
		Rewrite:    []File{{Path: "flake.nix", Data: flake}, {Path: inventory.FileName, Data: inv}},
		FlakeEntry: entry,
	}, nil
}

var defaultPatterns = map[string]string{
	hostMarker:    `NAME = mkHost "NAME";`,
	profileMarker: `NAME = mkHome [ ./home/NAME.nix ];`,
}

// MarkerError is a flake.nix that does not say where entries go.
type MarkerError struct {
	Err     error
	Marker  string
	Example string
}

func (e *MarkerError) Error() string { return e.Err.Error() }
func (e *MarkerError) Unwrap() error { return e.Err }

// Hint shows the marker line to add.
func (e *MarkerError) Hint() string {
	return fmt.Sprintf("add the entry by hand (%s), or put '# %s %s' inside the attribute set where entries go",
		e.Example, e.Marker, defaultPatterns[e.Marker])
}

// ConflictError lists every file that is in the way.
type ConflictError struct {
	Dir   string
	Paths []string
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("refusing to overwrite %d existing file(s) in %s, nothing was written: %s", len(e.Paths), e.Dir, joinPaths(e.Paths))
}

// Hint says how to go on.
func (e *ConflictError) Hint() string {
	return "move them away, or pick another directory or name"
}

func joinPaths(p []string) string { return strings.Join(p, ", ") }
