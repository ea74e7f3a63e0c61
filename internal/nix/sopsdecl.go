package nix

import (
	"encoding/json"
	"fmt"
	"strings"
)

// SopsDeclsApply is a Nix function of the flake's root directory and of a
// NixOS host's or Home Manager profile's configuration set (what
// nixosConfigurations.<attr> is) that returns what its sops-nix
// declarations say: every secret's file, key and format, the default file,
// and where the machine takes its age key from. Each secret is evaluated
// under tryEval, so a secret that throws is reported on its own and the
// others keep their values. Files inside the flake come back relative to
// its root; others as given. It needs the root: evaluate it with the whole
// flake in view (builtins.getFlake).
const SopsDeclsApply = `root: machine: let
  n = builtins.stringLength root;
  relOf = p: let s = toString p; in
    if builtins.substring 0 (n + 1) s == root + "/"
    then { repo = true; path = builtins.substring (n + 1) (builtins.stringLength s) s; }
    else { repo = false; path = s; };
  try = x: let r = builtins.tryEval (builtins.deepSeq x x); in if r.success then r.value else { error = true; };
  fileOf = f: if f == null then null else relOf f;
  sops = (machine.config or { }).sops or { };
  age = sops.age or { };
  def = try (fileOf (sops.defaultSopsFile or null));
  defFormat = sops.defaultSopsFormat or "yaml";
  secret = name: s: try {
    file = if s ? sopsFile then fileOf s.sopsFile else def;
    key = s.key or name;
    format = s.format or defFormat;
  };
in {
  secrets = try (builtins.mapAttrs secret (sops.secrets or { }));
  sshKeyPaths = try (age.sshKeyPaths or [ ]);
  keyFile = try (age.keyFile or null);
}`

// SopsFile is where a declaration points: a path inside the flake (Repo,
// relative to its root) or anything else.
type SopsFile struct {
	Repo bool   `json:"repo"`
	Path string `json:"path"`
}

// SopsSecret is one sops.secrets.<name> declaration.
type SopsSecret struct {
	// Failed: evaluating this secret threw.
	Failed bool      `json:"-"`
	File   *SopsFile `json:"file"`
	Key    string    `json:"key"`
	Format string    `json:"format"`
}

// SopsDecls is what one machine's configuration declares.
type SopsDecls struct {
	// Failed: evaluating the machine's sops settings threw.
	Failed      bool
	Secrets     map[string]SopsSecret
	SecretsErr  bool
	SSHKeyPaths []string
	KeyFile     string
}

// ParseSopsDecls reads what SopsDeclsApply returned for one machine.
func ParseSopsDecls(msg json.RawMessage) (SopsDecls, error) {
	d, err := parseDecls(msg)
	if err != nil {
		return d, fmt.Errorf("reading the sops settings nix evaluated: %w", err)
	}
	return d, nil
}

// failed tells tryEval's { error = true; } from a value.
func failed(msg json.RawMessage) bool {
	var e struct {
		Error bool `json:"error"`
	}
	return json.Unmarshal(msg, &e) == nil && e.Error
}

func parseDecls(msg json.RawMessage) (SopsDecls, error) {
	var d SopsDecls
	if failed(msg) {
		d.Failed = true
		return d, nil
	}
	var raw struct {
		Secrets     json.RawMessage `json:"secrets"`
		SSHKeyPaths json.RawMessage `json:"sshKeyPaths"`
		KeyFile     json.RawMessage `json:"keyFile"`
	}
	if err := json.Unmarshal(msg, &raw); err != nil {
		return d, err
	}
	if failed(raw.Secrets) {
		d.SecretsErr = true
	} else {
		var secrets map[string]json.RawMessage
		if err := json.Unmarshal(raw.Secrets, &secrets); err != nil {
			return d, err
		}
		d.Secrets = map[string]SopsSecret{}
		for name, s := range secrets {
			if failed(s) {
				d.Secrets[name] = SopsSecret{Failed: true}
				continue
			}
			var sec SopsSecret
			if err := json.Unmarshal(s, &sec); err != nil {
				return d, err
			}
			d.Secrets[name] = sec
		}
	}
	if !failed(raw.SSHKeyPaths) {
		_ = json.Unmarshal(raw.SSHKeyPaths, &d.SSHKeyPaths)
	}
	if !failed(raw.KeyFile) {
		_ = json.Unmarshal(raw.KeyFile, &d.KeyFile)
	}
	return d, nil
}

// IsLockFileStale reports nix refusing getFlake because flake.lock is
// missing or behind flake.nix's inputs.
func IsLockFileStale(stderr []byte) bool {
	return strings.Contains(StripANSI(string(stderr)), "requires lock file changes")
}
