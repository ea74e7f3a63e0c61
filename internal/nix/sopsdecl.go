package nix

import (
	"encoding/json"
	"fmt"
	"strings"
)

// SopsDeclsExpr is one expression over the flake that returns, for each
// NixOS host and Home Manager profile named (by attribute), what its
// sops-nix declarations say: every secret's file, key and format, the
// default file, and where the machine takes its age key from. Each item and
// each secret is evaluated under tryEval, so a secret that throws is
// reported on its own and the others keep their values. Files inside the
// flake come back relative to its root; others as given.
func SopsDeclsExpr(flake string, hosts, profiles []string) string {
	var b strings.Builder
	b.WriteString(`let
  flake = builtins.getFlake ` + nixString(flake) + `;
  root = toString flake.outPath;
  n = builtins.stringLength root;
  relOf = p: let s = toString p; in
    if builtins.substring 0 (n + 1) s == root + "/"
    then { repo = true; path = builtins.substring (n + 1) (builtins.stringLength s) s; }
    else { repo = false; path = s; };
  try = x: let r = builtins.tryEval (builtins.deepSeq x x); in if r.success then r.value else { error = true; };
  fileOf = f: if f == null then null else relOf f;
  declOf = cfg: let
      sops = cfg.sops or { };
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
    };
  items = set: names: builtins.listToAttrs (map (a: { name = a; value = try (declOf (set.${a}.config or { })); }) names);
in {
  hosts = items (flake.nixosConfigurations or { }) [`)
	for _, h := range hosts {
		b.WriteString(" " + nixString(h))
	}
	b.WriteString(` ];
  profiles = items (flake.homeConfigurations or { }) [`)
	for _, p := range profiles {
		b.WriteString(" " + nixString(p))
	}
	b.WriteString(" ];\n}\n")
	return b.String()
}

// EvalSopsDecls is the argv that evaluates SopsDeclsExpr. getFlake needs
// --impure for a local flake that is not locked by a hash, and a lock file
// that is up to date (it never writes one; see IsLockFileStale).
func EvalSopsDecls(flake string, hosts, profiles []string) []string {
	return Nix("eval", "--json", "--impure", "--expr", SopsDeclsExpr(flake, hosts, profiles), "--log-format", "internal-json")
}

// nixString quotes s as a Nix string literal.
func nixString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "${", `\${`, "\n", `\n`, "\r", `\r`, "\t", `\t`)
	return `"` + r.Replace(s) + `"`
}

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

// SopsDeclsResult is the parsed output of EvalSopsDecls, by attribute.
type SopsDeclsResult struct {
	Hosts    map[string]SopsDecls
	Profiles map[string]SopsDecls
}

// ParseSopsDecls reads EvalSopsDecls's JSON.
func ParseSopsDecls(out []byte) (*SopsDeclsResult, error) {
	var raw struct {
		Hosts    map[string]json.RawMessage `json:"hosts"`
		Profiles map[string]json.RawMessage `json:"profiles"`
	}
	if err := json.Unmarshal(out, &raw); err != nil {
		return nil, fmt.Errorf("reading nix eval's output: %w", err)
	}
	res := &SopsDeclsResult{Hosts: map[string]SopsDecls{}, Profiles: map[string]SopsDecls{}}
	for dst, src := range map[*map[string]SopsDecls]map[string]json.RawMessage{&res.Hosts: raw.Hosts, &res.Profiles: raw.Profiles} {
		for name, msg := range src {
			d, err := parseDecls(msg)
			if err != nil {
				return nil, fmt.Errorf("reading the sops settings of %s: %w", name, err)
			}
			(*dst)[name] = d
		}
	}
	return res, nil
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
