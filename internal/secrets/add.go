package secrets

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/nixctl/nixctl/internal/fault"
)

// AddOptions describe one new secret.
type AddOptions struct {
	// Kind is a folder under the secrets directory (kubeconfig, app…).
	Kind string
	// Name is the file's base name; for kubeconfigs it defaults to the
	// kubeconfig's current context.
	Name  string
	Input []byte
	// Format forces the stored format; "" detects it from Input.
	Format Format
	Force  bool
}

// AddResult describes the file written.
type AddResult struct {
	Path        string   `json:"path"`
	Format      Format   `json:"format"`
	Recipients  []string `json:"recipients"`
	Replaced    bool     `json:"replaced"`
	Declaration string   `json:"declaration"`
}

// Add encrypts Input into <secrets>/<Kind>/<Name><ext> for the recipients of
// the creation rule matching that path. An existing file is replaced only
// with Force.
func (s *Session) Add(opts AddOptions, w Writer) (*AddResult, error) {
	if err := CheckName("kind", opts.Kind); err != nil {
		return nil, err
	}
	if len(opts.Input) == 0 {
		return nil, fault.Usagef("pass --from FILE, or pipe the secret with --from -", "the input is empty")
	}
	format := opts.Format
	if format == "" {
		format = DetectFormat(opts.Input)
	}
	name := opts.Name
	if name == "" {
		if opts.Kind != "kubeconfig" {
			return nil, fault.Usagef("nixctl secrets add "+opts.Kind+" NAME --from FILE", "name the secret")
		}
		ctx, err := currentContext(opts.Input)
		if err != nil {
			return nil, err
		}
		name = ctx
	}
	if err := CheckName("name", name); err != nil {
		return nil, err
	}
	file := name
	switch ext := filepath.Ext(name); {
	case ext != "" && FormatOf(name) == format && (format != Binary || ext == ".bin"):
	case ext != "" && FormatOf(name) != Binary && FormatOf(name) != format:
		return nil, fault.Usagef("drop the extension (nixctl picks it) or pass --format "+string(FormatOf(name)),
			"%s ends in %s but the input is %s", name, ext, format)
	default:
		file = name + format.Ext()
	}
	path, err := s.Repo.Resolve(opts.Kind + "/" + file)
	if err != nil {
		return nil, err
	}
	res := &AddResult{Path: s.Repo.Rel(path), Format: format}
	if st, err := os.Lstat(path); err == nil {
		if !st.Mode().IsRegular() {
			return nil, fault.Newf(fault.Usage, "remove it first", "%s exists and is not a regular file", res.Path)
		}
		if !opts.Force {
			return nil, fault.Newf(fault.Usage, "pass --force to replace it, or 'nixctl secrets edit "+res.Path+"' to change it", "%s already exists", res.Path)
		}
		res.Replaced = true
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	out, rule, err := s.Encrypt(path, format, opts.Input)
	if err != nil {
		return nil, s.fileError(path, err)
	}
	res.Recipients = s.keyNames(rule.Keys)
	if err := w.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	if res.Replaced {
		err = w.WriteFile(path, out, 0o644)
	} else {
		err = w.CreateFile(path, out, 0o644)
	}
	if err != nil {
		return nil, fmt.Errorf("writing %s: %w", res.Path, err)
	}
	res.Declaration = Declaration(opts.Kind, strings.TrimSuffix(file, filepath.Ext(file)), res.Path, format)
	return res, nil
}

// currentContext reads a kubeconfig's current-context.
func currentContext(data []byte) (string, error) {
	var kc struct {
		CurrentContext string `yaml:"current-context"`
	}
	hint := "pass the name: nixctl secrets add kubeconfig NAME --from FILE"
	if err := yaml.Unmarshal(data, &kc); err != nil {
		return "", fault.Usagef(hint, "the input is not a YAML kubeconfig")
	}
	if kc.CurrentContext == "" {
		return "", fault.Usagef(hint, "the kubeconfig has no current-context")
	}
	if err := CheckName("name", kc.CurrentContext); err != nil {
		return "", fault.Usagef(hint, "the current context %q cannot name a file", kc.CurrentContext)
	}
	return kc.CurrentContext, nil
}

// Declaration is the sops-nix snippet that exposes a secret, written for
// the file its first line names: kubeconfigs go to ~/.kube/kubeconfig/
// through Home Manager, as home/common.nix does; other kinds to the servers'
// NixOS module. sopsFile is relative to that file, as Nix reads a path.
func Declaration(kind, name, relPath string, f Format) string {
	var b strings.Builder
	key := fmt.Sprintf("%s/%s", kind, name)
	module := DeclarationFile(kind)
	if kind == "kubeconfig" {
		fmt.Fprintf(&b, "# %s (Home Manager + sops-nix):\n", module)
	} else {
		fmt.Fprintf(&b, "# %s (NixOS + sops-nix):\n", module)
	}
	fmt.Fprintf(&b, "sops.secrets.%q = {\n", key)
	fmt.Fprintf(&b, "  sopsFile = %s;\n", nixPathFrom(module, relPath))
	fmt.Fprintf(&b, "  format = %q;\n", string(f))
	switch f {
	case YAML, JSON:
		fmt.Fprintf(&b, "  key = \"\"; # the whole document\n")
	case Dotenv:
		fmt.Fprintf(&b, "  # key = \"VARIABLE\"; # one variable; without key sops-nix looks up %q\n", key)
	}
	if kind == "kubeconfig" {
		fmt.Fprintf(&b, "  path = \"${config.home.homeDirectory}/.kube/kubeconfig/%s.yml\";\n", name)
	}
	b.WriteString("};\n")
	return b.String()
}

// DeclarationFile is the repository file a kind's snippet is written for.
func DeclarationFile(kind string) string {
	if kind == "kubeconfig" {
		return "home/common.nix"
	}
	return "modules/server/base.nix"
}

// nixPathFrom writes target (relative to the repository, or absolute) as a
// Nix path literal in the file module: "../../secrets/app/db.env" from
// modules/server/base.nix.
func nixPathFrom(module, target string) string {
	if filepath.IsAbs(target) {
		return target
	}
	rel, err := filepath.Rel(filepath.Dir(filepath.FromSlash(module)), filepath.FromSlash(target))
	if err != nil {
		return "./" + target
	}
	rel = filepath.ToSlash(rel)
	if !strings.HasPrefix(rel, "../") {
		rel = "./" + rel
	}
	return rel
}
