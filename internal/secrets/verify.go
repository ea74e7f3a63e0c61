package secrets

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/getsops/sops/v3"

	"github.com/nixctl/nixctl/internal/execx"
	"github.com/nixctl/nixctl/internal/inventory"
)

// Statuses of a file, most severe first.
const (
	StatusPlaintext  = "PLAINTEXT"
	StatusMACInvalid = "MAC invalid"
	StatusDrift      = "recipients differ from .sops.yaml"
	StatusUnreadable = "unreadable"
	StatusOK         = "ok"
)

var severity = []string{StatusPlaintext, StatusMACInvalid, StatusUnreadable, StatusDrift, StatusOK}

// FileStatus is what verify and list know about one file. It never holds a
// value of the file.
type FileStatus struct {
	// Path is relative to the fleet directory (secrets/kubeconfig/x.yml).
	Path   string `json:"path"`
	Format Format `json:"format"`
	// Recipients are named by their .sops.yaml anchors, else given whole.
	Recipients []string `json:"recipients"`
	// Keys are the file's keys in full (type and value).
	Keys []Key `json:"keys"`
	// NotChecked names keys nixctl cannot compare with .sops.yaml (cloud
	// KMS, Vault): they are neither drift nor a match.
	NotChecked []string  `json:"notChecked,omitempty"`
	Modified   time.Time `json:"modified"`
	Status     string    `json:"status"`
	Problems   []string  `json:"problems"`
	// MACChecked is true when a key was available and the MAC was verified.
	MACChecked bool `json:"macChecked"`
}

// OK reports whether the file has no problem.
func (f FileStatus) OK() bool { return len(f.Problems) == 0 }

// VerifyReport covers every file of the secrets directory.
type VerifyReport struct {
	Dir   string       `json:"dir"`
	Files []FileStatus `json:"files"`
}

// OK reports whether no file has a problem.
func (r *VerifyReport) OK() bool {
	for _, f := range r.Files {
		if !f.OK() {
			return false
		}
	}
	return true
}

// Problems lists "path: problem" for every problem.
func (r *VerifyReport) Problems() []string {
	var out []string
	for _, f := range r.Files {
		for _, p := range f.Problems {
			out = append(out, f.Path+": "+p)
		}
	}
	return out
}

// VerifyOptions tune Verify.
type VerifyOptions struct {
	// Keys, when set, lets Verify decrypt and check each file's MAC; without
	// keys it checks structure and recipients only.
	Keys *Keyring
	// Staged checks the content git has staged under the secrets directory
	// instead of the working tree (for a pre-commit hook); it needs Runner.
	Staged bool
	Runner execx.Runner
}

// Verify checks every file under the fleet's secrets directory: each must be
// a sops file whose values are all encrypted and whose recipients match
// .sops.yaml; with keys, its MAC must verify too. Problems are in the report;
// the error is for failures to look at all.
func Verify(ctx context.Context, fleet *inventory.Fleet, opts VerifyOptions) (*VerifyReport, error) {
	s, err := NewSession(RepoOf(fleet), opts.Keys)
	if err != nil {
		return nil, err
	}
	return s.Verify(ctx, opts)
}

// candidate is one file to check: its content is read lazily.
type candidate struct {
	abs     string
	read    func() ([]byte, error)
	mtime   time.Time
	problem string
}

// sopsFile is a file of the tree that reads as a sops document.
type sopsFile struct {
	candidate
	encrypted *Encrypted
}

// sopsFiles lists the tree's files that load as sops documents; the
// others (unreadable, plaintext, damaged) are Verify's to report.
func (s *Session) sopsFiles() ([]sopsFile, error) {
	files, err := s.treeFiles()
	if err != nil {
		return nil, err
	}
	var out []sopsFile
	for _, f := range files {
		if f.problem != "" {
			continue
		}
		data, err := f.read()
		if err != nil {
			continue
		}
		if e, err := s.Load(f.abs, data); err == nil {
			out = append(out, sopsFile{f, e})
		}
	}
	return out, nil
}

// Verify is Verify for an already open session.
func (s *Session) Verify(ctx context.Context, opts VerifyOptions) (*VerifyReport, error) {
	var files []candidate
	var err error
	if opts.Staged {
		files, err = s.stagedFiles(ctx, opts.Runner)
	} else {
		files, err = s.treeFiles()
	}
	if err != nil {
		return nil, err
	}
	rep := &VerifyReport{Dir: s.Repo.Rel(s.Repo.Dir), Files: []FileStatus{}}
	for _, c := range files {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		st := s.check(c)
		st.Status = worst(st.Problems, st.statusOf)
		rep.Files = append(rep.Files, st)
	}
	return rep, nil
}

// treeFiles lists every file under the secrets directory, hidden ones too
// (a stray .env is exactly what verify is for). .git folders, empty
// .gitkeep files and README files are skipped.
func (s *Session) treeFiles() ([]candidate, error) {
	var out []candidate
	err := filepath.WalkDir(s.Repo.Dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == s.Repo.Dir && errors.Is(err, fs.ErrNotExist) {
				return filepath.SkipAll
			}
			return err
		}
		if d.IsDir() {
			if d.Name() == ".git" {
				return filepath.SkipDir
			}
			return nil
		}
		if p == s.Repo.Config {
			// .sops.yaml may live in the secrets directory.
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		c := candidate{abs: p, mtime: info.ModTime()}
		switch {
		case info.Mode()&fs.ModeSymlink != 0:
			c.problem = "a symbolic link (not followed): keep real files in the secrets directory"
		case !info.Mode().IsRegular():
			c.problem = "not a regular file"
		case (d.Name() == ".gitkeep" || d.Name() == ".keep") && info.Size() == 0, isReadme(d.Name()):
			return nil
		}
		c.read = func() ([]byte, error) { data, _, err := readSecret(p); return data, err }
		out = append(out, c)
		return nil
	})
	return out, err
}

// isReadme reports whether name is a README (README, README.md,
// readme.txt, …): the documentation a secrets folder often carries, which
// is not a secret and stays readable in the repository. A README.yaml could
// be a secret, so only documentation extensions count.
func isReadme(name string) bool {
	base, ext, _ := strings.Cut(strings.ToLower(name), ".")
	return base == "readme" && slices.Contains([]string{"", "md", "txt", "rst", "org", "adoc"}, ext)
}

// stagedFiles lists what git has staged under the secrets directory, read
// from the index (git show :path), not from the working tree.
func (s *Session) stagedFiles(ctx context.Context, r execx.Runner) ([]candidate, error) {
	if r == nil {
		return nil, errors.New("--staged needs git")
	}
	if _, err := os.Stat(s.Repo.Dir); errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	res, err := r.Run(ctx, execx.Cmd{Argv: []string{"git", "diff", "--cached", "--name-only", "-z", "--relative", "--diff-filter=ACMR", "--", "."}, Dir: s.Repo.Dir, ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("listing staged files: %w", err)
	}
	var out []candidate
	for _, name := range strings.Split(string(res.Stdout), "\x00") {
		if name == "" {
			continue
		}
		name := name
		abs := filepath.Join(s.Repo.Dir, filepath.FromSlash(name))
		if abs == s.Repo.Config || isReadme(path.Base(name)) {
			continue
		}
		out = append(out, candidate{
			abs: abs,
			read: func() ([]byte, error) {
				res, err := r.Run(ctx, execx.Cmd{Argv: []string{"git", "show", ":./" + name}, Dir: s.Repo.Dir, ReadOnly: true})
				if err != nil {
					return nil, err
				}
				return res.Stdout, nil
			},
		})
	}
	return out, nil
}

// check examines one file.
func (s *Session) check(c candidate) FileStatus {
	st := FileStatus{Path: printable(s.Repo.Rel(c.abs)), Format: s.formatFor(c.abs), Modified: c.mtime, Recipients: []string{}, Keys: []Key{}, Problems: []string{}}
	if st.Path != s.Repo.Rel(c.abs) {
		st.Problems = append(st.Problems, "the file name holds control characters: rename it")
	}
	if c.problem != "" {
		st.Problems = append(st.Problems, c.problem)
		return st
	}
	data, err := c.read()
	if err != nil {
		st.Problems = append(st.Problems, "cannot read: "+errText(err))
		return st
	}
	e, err := s.Load(c.abs, data)
	if errors.Is(err, ErrDamaged) {
		st.Problems = append(st.Problems, StatusUnreadable+": "+err.Error()+"; restore it from git")
		return st
	}
	if err != nil {
		st.Problems = append(st.Problems, "PLAINTEXT: not a sops file (no sops metadata); encrypt it with 'nixctl secrets add' and delete this copy")
		return st
	}
	if !e.Tree.Metadata.LastModified.IsZero() {
		st.Modified = e.Tree.Metadata.LastModified
	}
	have := e.Keys()
	for _, k := range flatten(have) {
		st.Recipients = append(st.Recipients, s.keyName(k))
		st.Keys = append(st.Keys, k)
	}
	for _, p := range unencryptedValues(e.Tree) {
		st.Problems = append(st.Problems, "PLAINTEXT: value at "+p+" is not encrypted")
	}
	if e.Tree.Metadata.MessageAuthenticationCode == "" {
		st.Problems = append(st.Problems, "MAC invalid: the file has no MAC")
	}
	if s.Config == nil {
		st.Problems = append(st.Problems, "recipients cannot be checked: "+s.Repo.Rel(s.Repo.Config)+" is missing")
	} else if rule, err := s.ruleOf(c.abs); err != nil {
		st.Problems = append(st.Problems, "recipients differ from .sops.yaml: "+errText(err))
	} else {
		s.compareKeys(&st, have, rule)
	}
	if s.Keys != nil && s.Keys.HasKeys() {
		_, err := s.Decrypt(e)
		var nk *NoKeyError
		switch {
		case err == nil:
			st.MACChecked = true
		case errors.As(err, &nk):
			// Not a problem of the file: this machine cannot read it.
		case errors.Is(err, ErrMAC), errors.Is(err, ErrValue):
			st.MACChecked = true
			st.Problems = append(st.Problems, "MAC invalid: "+err.Error())
		default:
			st.Problems = append(st.Problems, "cannot decrypt: "+errText(err))
		}
	}
	return st
}

// printable shows s as it is when it has no control characters, else quoted
// with escapes, so a hostile name cannot drive the terminal or forge lines.
func printable(s string) string {
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == utf8.RuneError {
			return strconv.Quote(s)
		}
	}
	return s
}

// errText keeps an error's message on one line.
func errText(err error) string { return strings.ReplaceAll(err.Error(), "\n", " ") }

func (st *FileStatus) statusOf(problem string) string {
	for _, s := range []string{StatusPlaintext, StatusMACInvalid, StatusDrift} {
		if strings.HasPrefix(problem, s) {
			return s
		}
	}
	return StatusUnreadable
}

func worst(problems []string, classify func(string) string) string {
	best := len(severity) - 1
	for _, p := range problems {
		if i := slices.Index(severity, classify(p)); i < best {
			best = i
		}
	}
	return severity[best]
}

// compareKeys reports a file whose keys differ from its rule's, group by
// group; pgp keys by fingerprint. Keys of other types are listed as not
// checked, never as drift.
func (s *Session) compareKeys(st *FileStatus, have [][]Key, rule CreationRule) {
	filter := func(groups [][]Key) [][]Key {
		var out [][]Key
		for _, g := range groups {
			var keep []Key
			for _, k := range g {
				if checkable(k) {
					keep = append(keep, k)
				} else if n := s.keyName(k); !slices.Contains(st.NotChecked, n) {
					st.NotChecked = append(st.NotChecked, n)
				}
			}
			out = append(out, keep)
		}
		return out
	}
	h, w := filter(have), filter(rule.Groups)
	if sameGroups(h, w) {
		return
	}
	missing, extra := keysMinus(flatten(w), flatten(h)), keysMinus(flatten(h), flatten(w))
	var parts []string
	if len(missing) > 0 {
		parts = append(parts, "missing "+strings.Join(s.keyNames(missing), ", "))
	}
	if len(extra) > 0 {
		parts = append(parts, "not in .sops.yaml "+strings.Join(s.keyNames(extra), ", "))
	}
	if len(parts) == 0 {
		parts = append(parts, fmt.Sprintf("key groups differ (%d in the file, %d in %s)", len(h), len(w), rule.Label()))
	}
	st.Problems = append(st.Problems, "recipients differ from .sops.yaml: "+strings.Join(parts, "; ")+" (run 'nixctl secrets rekey')")
}

var encValue = regexp.MustCompile(`^ENC\[AES256_GCM,data:[A-Za-z0-9+/=]*,iv:[A-Za-z0-9+/=]+,tag:[A-Za-z0-9+/=]+,type:(str|int|float|bool|bytes|time|comment)\]$`)

// unencryptedValues lists the key paths (never the values) of values that
// should be encrypted according to the file's own metadata but are not.
// Comments are not checked: sops does not authenticate them either.
func unencryptedValues(tree *sops.Tree) []string {
	md := tree.Metadata
	if md.UnencryptedCommentRegex != "" || md.EncryptedCommentRegex != "" {
		// Whether a value is encrypted depends on comments; only sops's own
		// walker knows, and the MAC check covers it when a key is present.
		return nil
	}
	var out []string
	var walkValue func(v any, path []string)
	walkValue = func(v any, path []string) {
		switch v := v.(type) {
		case sops.TreeBranch:
			for _, it := range v {
				if _, ok := it.Key.(sops.Comment); ok {
					continue
				}
				// A key need not be a string (8080:, true:): its value is
				// a secret all the same.
				walkValue(it.Value, append(slices.Clone(path), fmt.Sprint(it.Key)))
			}
		case []any:
			for _, x := range v {
				walkValue(x, path)
			}
		case sops.Comment, nil:
		case string:
			if v != "" && !encValue.MatchString(v) && shouldEncrypt(md, path) {
				out = append(out, printable(strings.Join(path, ".")))
			}
		default:
			if shouldEncrypt(md, path) {
				out = append(out, printable(strings.Join(path, ".")))
			}
		}
	}
	for _, b := range tree.Branches {
		walkValue(b, nil)
	}
	return out
}

// shouldEncrypt mirrors sops's rule for a value at path from the metadata's
// suffix and regex settings.
func shouldEncrypt(md sops.Metadata, path []string) bool {
	enc := true
	if md.UnencryptedSuffix != "" {
		for _, p := range path {
			if strings.HasSuffix(p, md.UnencryptedSuffix) {
				enc = false
			}
		}
	}
	if md.EncryptedSuffix != "" {
		enc = slices.ContainsFunc(path, func(p string) bool { return strings.HasSuffix(p, md.EncryptedSuffix) })
	}
	if md.UnencryptedRegex != "" {
		if re, err := regexp.Compile(md.UnencryptedRegex); err == nil && slices.ContainsFunc(path, re.MatchString) {
			enc = false
		}
	}
	if md.EncryptedRegex != "" {
		re, err := regexp.Compile(md.EncryptedRegex)
		enc = err != nil || slices.ContainsFunc(path, re.MatchString)
	}
	return enc
}
