package secrets

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/getsops/sops/v3"

	"github.com/nixctl/nixctl/internal/eval"
	"github.com/nixctl/nixctl/internal/execx"
	"github.com/nixctl/nixctl/internal/fault"
	"github.com/nixctl/nixctl/internal/inventory"
	"github.com/nixctl/nixctl/internal/nix"
)

// Can each machine decrypt what its configuration uses? sops-nix cannot
// know at build time which key a host will hold; nixctl knows the hosts'
// keys (known_hosts) and the recipients of the user's machines, so it can.

// SecretAccess is one sops.secrets.<name> of a machine.
type SecretAccess struct {
	Name   string `json:"name"`
	File   string `json:"file,omitempty"`
	Key    string `json:"key,omitempty"`
	Format string `json:"format,omitempty"`
	OK     bool   `json:"ok"`
	// Problem says why the machine will fail to decrypt it.
	Problem string `json:"problem,omitempty"`
	Hint    string `json:"hint,omitempty"`
}

// MachineAccess is one host or profile.
type MachineAccess struct {
	Kind string `json:"kind"`
	Name string `json:"name"`
	// Recipient is the age recipient that decrypts on the machine, and
	// From where nixctl learnt it.
	Recipient string         `json:"recipient,omitempty"`
	From      string         `json:"from,omitempty"`
	Secrets   []SecretAccess `json:"secrets"`
	// Problem is a failure of the machine as a whole (its evaluation).
	Problem string `json:"problem,omitempty"`
	Hint    string `json:"hint,omitempty"`
	// Note is said without failing (an age key file nixctl cannot see).
	Note string `json:"note,omitempty"`
}

// OK reports whether the machine can decrypt every secret it declares.
func (m *MachineAccess) OK() bool {
	if m.Problem != "" {
		return false
	}
	for _, s := range m.Secrets {
		if !s.OK {
			return false
		}
	}
	return true
}

// AccessCheck is the report of CheckAccess.
type AccessCheck struct {
	Machines []MachineAccess `json:"machines"`
}

// OK reports whether every machine passed.
func (r *AccessCheck) OK() bool {
	for i := range r.Machines {
		if !r.Machines[i].OK() {
			return false
		}
	}
	return true
}

// Failed lists the machines that would fail to decrypt, by kind and name.
func (r *AccessCheck) Failed() []*MachineAccess {
	var out []*MachineAccess
	for i := range r.Machines {
		if !r.Machines[i].OK() {
			out = append(out, &r.Machines[i])
		}
	}
	return out
}

// Err is nil when every machine passed, else one Secrets error naming
// each failure and the fix.
func (r *AccessCheck) Err() error {
	var lines, hints []string
	for _, m := range r.Failed() {
		l, h := m.problems()
		lines, hints = append(lines, l...), appendNew(hints, h...)
	}
	return accessErr(lines, hints)
}

// Err is nil when the machine passed, else what Err says for it alone.
func (m *MachineAccess) Err() error { return accessErr(m.problems()) }

func (m *MachineAccess) problems() (lines, hints []string) {
	if m.Problem != "" {
		lines = append(lines, fmt.Sprintf("%s %s: %s", m.Kind, m.Name, m.Problem))
		hints = appendNew(hints, m.Hint)
	}
	for _, s := range m.Secrets {
		if !s.OK {
			lines = append(lines, fmt.Sprintf("%s %s: secret %s: %s", m.Kind, m.Name, s.Name, s.Problem))
			hints = appendNew(hints, s.Hint)
		}
	}
	return lines, hints
}

func accessErr(lines, hints []string) error {
	if len(lines) == 0 {
		return nil
	}
	return fault.Newf(fault.Secrets, strings.Join(hints, "; "), "%d problem(s): a machine would fail to decrypt its secrets:\n  %s", len(lines), strings.Join(lines, "\n  "))
}

func appendNew(list []string, add ...string) []string {
	for _, s := range add {
		if s != "" && !slices.Contains(list, s) {
			list = append(list, s)
		}
	}
	return list
}

// HostRecipientFunc finds the age recipient a host decrypts with (from its
// ed25519 host key) and says where it came from.
type HostRecipientFunc func(ctx context.Context, h inventory.Host) (recipient, from string, err error)

// AccessCheckOptions say what CheckAccess looks at.
type AccessCheckOptions struct {
	Runner   execx.Runner
	Fleet    *inventory.Fleet
	Hosts    []inventory.Host
	Profiles []inventory.Profile
	// HostRecipient is asked only for hosts that declare secrets.
	HostRecipient HostRecipientFunc
	// EvalJobs bounds the nix evaluations running at once (0: from the
	// cores and the memory).
	EvalJobs int
	// Evaluated, when set, are the results of DeclItems(Hosts, Profiles)
	// evaluated already (with the hosts' toplevels, by deploy): CheckAccess
	// then evaluates nothing itself.
	Evaluated []eval.Result
}

// HostFailures is what deploy's check stage needs from CheckAccess's
// outcome: each host that would fail to decrypt, with its error. A check
// that could not run at all (err) fails every host with it: deploying
// blind is what the check prevents.
func HostFailures(rep *AccessCheck, err error, hosts []inventory.Host) map[string]error {
	failed := map[string]error{}
	if err != nil {
		err = fault.New(fault.Secrets, fmt.Errorf("checking who can decrypt the secrets: %w", err), fault.HintOf(err))
		for _, h := range hosts {
			failed[h.Name] = err
		}
		return failed
	}
	for _, m := range rep.Failed() {
		failed[m.Name] = m.Err()
	}
	return failed
}

// DeclItems are the values CheckAccess evaluates: each host's and
// profile's sops-nix declarations, hosts first. They need the flake's root:
// evaluate them with eval.Options.WholeFlake.
func DeclItems(hosts []inventory.Host, profiles []inventory.Profile) []eval.Item {
	var items []eval.Item
	for _, h := range hosts {
		items = append(items, eval.Item{Output: eval.OutputNixOS, Attr: h.Attr, Apply: nix.SopsDeclsApply})
	}
	for _, p := range profiles {
		items = append(items, eval.Item{Output: eval.OutputHome, Attr: p.Attr, Apply: nix.SopsDeclsApply})
	}
	return items
}

// CheckAccess evaluates the sops-nix declarations of every host and profile
// in one nix process and checks, for each secret: the file is in the
// repository and is a sops file, the key is in it, and the machine's
// recipient is among the file's recipients.
func (s *Session) CheckAccess(ctx context.Context, o AccessCheckOptions) (*AccessCheck, error) {
	decls, err := evalSopsDecls(ctx, o)
	if err != nil {
		return nil, err
	}
	rep := &AccessCheck{Machines: []MachineAccess{}}
	for _, h := range o.Hosts {
		m := MachineAccess{Kind: "host", Name: h.Name, Secrets: []SecretAccess{}}
		d, ok := decls.decls["host:"+h.Attr]
		fix := "nixctl secrets add-host " + h.Name
		recipient := func() (string, string, error) {
			if len(d.SSHKeyPaths) == 0 && d.KeyFile != "" {
				return "", "", nil
			}
			return o.HostRecipient(ctx, h)
		}
		s.checkMachine(&m, d, ok, decls.errs["host:"+h.Attr], recipient, fix)
		rep.Machines = append(rep.Machines, m)
	}
	for _, p := range o.Profiles {
		m := MachineAccess{Kind: "profile", Name: p.Name, Secrets: []SecretAccess{}}
		d, ok := decls.decls["profile:"+p.Attr]
		fix := "nixctl secrets recipient add " + orName(p.Recipient, p.Name) + " age1… (the key of the machine " + p.Name + " runs on)"
		recipient := func() (string, string, error) {
			if p.Recipient == "" {
				return "", "", fault.Newf(fault.Secrets, "set recipient: NAME for profile "+p.Name+" in nixctl.yaml, NAME being its machine's key in "+s.Repo.Rel(s.Config.Path),
					"nixctl does not know which key decrypts on the machine of profile %s", p.Name)
			}
			r, ok := s.Config.Anchor(p.Recipient)
			if !ok {
				return "", "", fault.Newf(fault.Secrets, fix, "recipient %s (nixctl.yaml) names no key in %s", p.Recipient, s.Repo.Rel(s.Config.Path))
			}
			return r, "recipient " + p.Recipient + " of " + s.Repo.Rel(s.Config.Path), nil
		}
		s.checkMachine(&m, d, ok, decls.errs["profile:"+p.Attr], recipient, fix)
		rep.Machines = append(rep.Machines, m)
	}
	return rep, nil
}

func orName(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func (s *Session) checkMachine(m *MachineAccess, d nix.SopsDecls, found bool, evalErr string, recipient func() (string, string, error), fix string) {
	switch {
	case evalErr != "":
		m.Problem, m.Hint = "evaluating its configuration failed: "+evalErr, "run 'nixctl check "+m.Name+"' for the located error"
		return
	case !found || d.Failed || d.SecretsErr:
		m.Problem, m.Hint = "evaluating config.sops failed", "run 'nixctl check "+m.Name+"' for the located error"
		return
	case len(d.Secrets) == 0:
		return
	}
	rec, from, err := recipient()
	switch {
	case err != nil:
		m.Problem, m.Hint = errText(err), fault.HintOf(err)
		return
	case rec == "":
		m.Note = "decrypts with the age key file " + d.KeyFile + " on the machine: its recipient is not checked"
	}
	m.Recipient, m.From = rec, from
	for _, name := range sortedKeys(d.Secrets) {
		sec := d.Secrets[name]
		sa := SecretAccess{Name: name, Key: sec.Key, Format: sec.Format}
		if sec.File != nil {
			sa.File = sec.File.Path
		}
		sa.Problem, sa.Hint = s.checkSecret(sec, rec, m, fix)
		sa.OK = sa.Problem == ""
		m.Secrets = append(m.Secrets, sa)
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// checkSecret returns why the machine would fail to decrypt sec ("" if it
// would not) and the fix.
func (s *Session) checkSecret(sec nix.SopsSecret, recipient string, m *MachineAccess, fix string) (string, string) {
	switch {
	case sec.Failed:
		return "evaluating its declaration failed", "run 'nixctl check " + m.Name + "' for the located error"
	case sec.File == nil:
		return "no sopsFile and no sops.defaultSopsFile", "set sopsFile for it, or sops.defaultSopsFile"
	case !sec.File.Repo:
		return sec.File.Path + " is not a file of the repository", "point sopsFile at a file under " + s.Repo.Rel(s.Repo.Dir) + "/ (a path, not a string)"
	}
	abs := filepath.Join(s.Repo.Root, filepath.FromSlash(sec.File.Path))
	data, _, err := readSecret(abs)
	if errors.Is(err, os.ErrNotExist) {
		return sec.File.Path + " does not exist", "create it with 'nixctl secrets add' (and git add it)"
	}
	if err != nil {
		return errText(err), ""
	}
	e, err := s.Load(abs, data)
	if err != nil {
		return sec.File.Path + ": " + errText(err), "encrypt it with 'nixctl secrets add' and delete the plaintext"
	}
	if !hasKey(e, sec) {
		return fmt.Sprintf("%s has no key %q", sec.File.Path, sec.Key), "add it with 'nixctl secrets edit " + sec.File.Path + "', or fix key = in the declaration"
	}
	if recipient == "" {
		return "", ""
	}
	if !canDecrypt(e, recipient) {
		return fmt.Sprintf("%s is not encrypted for %s's key (%s)", sec.File.Path, m.Name, shortKey(recipient)),
			fix + ", or 'nixctl secrets rekey " + sec.File.Path + "' if .sops.yaml already lists it"
	}
	return "", ""
}

// canDecrypt: the recipient opens enough key groups (shamir_threshold).
func canDecrypt(e *Encrypted, recipient string) bool {
	groups := e.Keys()
	n := 0
	for _, g := range groups {
		for _, k := range g {
			if k.Type == "age" && k.Value == recipient {
				n++
				break
			}
		}
	}
	need := len(groups)
	if t := e.Tree.Metadata.ShamirThreshold; t > 0 && t < need {
		need = t
	}
	return n > 0 && n >= need
}

// hasKey looks key up the way sops-nix does: "" is the whole document,
// "a/b" a nested key of yaml, json and ini files, a plain name in dotenv;
// binary files have no keys. Keys are stored in the clear, so no
// decryption is needed.
func hasKey(e *Encrypted, sec nix.SopsSecret) bool {
	if sec.Format == "binary" || sec.Key == "" {
		return true
	}
	if len(e.Tree.Branches) == 0 {
		return false
	}
	parts := []string{sec.Key}
	if sec.Format != "dotenv" {
		parts = strings.Split(sec.Key, "/")
	}
	var cur any = e.Tree.Branches[0]
	for _, p := range parts {
		branch, ok := cur.(sops.TreeBranch)
		if !ok {
			return false
		}
		found := false
		for _, it := range branch {
			if fmt.Sprint(it.Key) == p {
				cur, found = it.Value, true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// sopsDecls are the declarations of the checked machines, by kind and
// attribute ("host:web-1"), and the error of those whose evaluation failed.
type sopsDecls struct {
	decls map[string]nix.SopsDecls
	errs  map[string]string
}

// evalSopsDecls evaluates the declarations of every host and profile in one
// nix process (per chunk of machines). A machine whose evaluation fails,
// even with an error tryEval cannot catch (a type error, an abort), is
// evaluated alone for its located error; the others keep their values.
func evalSopsDecls(ctx context.Context, o AccessCheckOptions) (*sopsDecls, error) {
	items := DeclItems(o.Hosts, o.Profiles)
	var keys []string
	for _, h := range o.Hosts {
		keys = append(keys, "host:"+h.Attr)
	}
	for _, p := range o.Profiles {
		keys = append(keys, "profile:"+p.Attr)
	}
	results := o.Evaluated
	if results == nil {
		var err error
		results, err = eval.Run(ctx, o.Runner, items, eval.Options{Flake: o.Fleet.Flake, Dir: o.Fleet.Dir, Jobs: o.EvalJobs, WholeFlake: true})
		if err != nil {
			return nil, err
		}
	}
	if len(results) != len(items) {
		return nil, fmt.Errorf("%d evaluated sops declarations for %d machines", len(results), len(items))
	}
	res := &sopsDecls{decls: map[string]nix.SopsDecls{}, errs: map[string]string{}}
	for i, r := range results {
		switch {
		case len(r.Errors) > 0:
			if nix.IsLockFileStale([]byte(r.Errors[0].Message)) {
				return nil, fault.Newf(fault.Check, "run 'nix flake lock' (nixctl check and deploy update it too), then again",
					"%s: flake.lock is missing or out of date", o.Fleet.Flake)
			}
			res.errs[keys[i]] = r.Errors[0].String()
		case r.Missing:
			res.errs[keys[i]] = fmt.Sprintf("the flake has no %s.%s", items[i].Output, nix.Attr(items[i].Attr))
		default:
			d, err := nix.ParseSopsDecls(r.Value)
			if err != nil {
				return nil, fmt.Errorf("%s %s: %w", items[i].Output, items[i].Attr, err)
			}
			res.decls[keys[i]] = d
		}
	}
	return res, nil
}
