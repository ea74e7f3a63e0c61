package secrets

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/nixctl/nixctl/internal/execx"
	"github.com/nixctl/nixctl/internal/fault"
)

// EditOptions say how to run the editor.
type EditOptions struct {
	// Editor is the editor's argv; the file name is appended.
	Editor []string
	Runner execx.Runner
	// Stdin, Stdout and Stderr are the terminal the editor gets.
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// TempBase holds the 0700 directory of the plaintext file:
	// $XDG_RUNTIME_DIR (a tmpfs only the user can read) or the temp dir.
	TempBase string
	// StateDir keeps an edit that was rejected (invalid content), encrypted
	// with the file's data key, to offer it back next time.
	StateDir string
	// Resume asks whether to start from a rejected edit saved at the time
	// given; nil resumes it.
	Resume func(saved time.Time) (bool, error)
	// Logf reports progress on stderr.
	Logf func(format string, args ...any)
}

// EditResult says what an edit did.
type EditResult struct {
	Path    string `json:"path"`
	Changed bool   `json:"changed"`
}

// Edit decrypts a secret into a 0600 file inside a fresh 0700 directory, runs
// the editor on it, and re-encrypts with the same data key if the content
// changed, replacing the file atomically. The plaintext file is removed on
// every path out of Edit: success, editor failure, invalid content, and
// cancellation (SIGINT/SIGTERM cancel ctx, which kills the editor).
func (s *Session) Edit(ctx context.Context, userPath string, opts EditOptions, w Writer) (res *EditResult, err error) {
	path, err := s.Repo.Resolve(userPath)
	if err != nil {
		return nil, err
	}
	rel := s.Repo.Rel(path)
	o, err := s.openPath(path)
	if err != nil {
		return nil, err
	}
	original, err := o.Plaintext()
	if err != nil {
		return nil, err
	}
	start := original
	rejected := rejectedPath(opts.StateDir, path)
	if text, saved, ok := s.loadRejected(rejected, path, o.DataKey); ok {
		resume := true
		if opts.Resume != nil {
			if resume, err = opts.Resume(saved); err != nil {
				return nil, err
			}
		}
		if resume {
			start = text
			opts.Logf("starting from your edit of %s that was rejected on %s", rel, saved.Local().Format(time.DateTime))
		}
	}

	removeStaleEditDirs(opts.TempBase)
	dir, err := os.MkdirTemp(opts.TempBase, fmt.Sprintf("nixctl-edit-%d-", os.Getpid()))
	if err != nil {
		return nil, fmt.Errorf("creating the edit directory: %w", err)
	}
	defer os.RemoveAll(dir)
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, err
	}
	tmp := filepath.Join(dir, filepath.Base(path))
	if err := writeNew(tmp, start); err != nil {
		return nil, err
	}
	argv := append(append([]string(nil), opts.Editor...), tmp)
	_, runErr := opts.Runner.Run(ctx, execx.Cmd{Argv: argv, Stdin: opts.Stdin, Stdout: opts.Stdout, Stderr: opts.Stderr, Interactive: true})
	if ctx.Err() != nil {
		return nil, fault.Newf(fault.Interrupted, "", "interrupted: the edit was discarded and %s is unchanged", rel)
	}
	if runErr != nil {
		return nil, fault.Newf(fault.Failure, "set $VISUAL or $EDITOR to an editor that exits 0 (e.g. EDITOR='code --wait')",
			"the editor failed (%v): %s is unchanged", runErr, rel)
	}
	edited, err := os.ReadFile(tmp)
	// The plaintext leaves the disk before anything else happens.
	os.RemoveAll(dir)
	if err != nil {
		return nil, fmt.Errorf("reading the edited file: %w", err)
	}
	res = &EditResult{Path: rel}
	if bytes.Equal(edited, original) {
		os.Remove(rejected)
		return res, nil
	}
	branches, err := s.ParsePlain(o.Format, edited)
	if err != nil {
		if serr := s.saveRejected(rejected, path, o.DataKey, edited); serr != nil {
			return nil, fault.Newf(fault.Secrets, "", "the edited %s is %v and could not be kept (%v): %s is unchanged", o.Format, err, serr, rel)
		}
		return nil, fault.Newf(fault.Secrets, "run 'nixctl secrets edit "+rel+"' again: it offers your text back (kept encrypted)",
			"the edited document is %v: %s is unchanged", err, rel)
	}
	o.Tree.Branches = branches
	out, err := s.Seal(o)
	if err != nil {
		return nil, err
	}
	if err := w.WriteFile(path, out, 0o644); err != nil {
		return nil, fmt.Errorf("writing %s: %w", rel, err)
	}
	os.Remove(rejected)
	res.Changed = true
	// Like sops edit, the file keeps its own recipients; say when they are
	// not those .sops.yaml asks for.
	if s.Config != nil {
		if rule, err := s.ruleOf(path); err == nil {
			if !sameGroups(o.Keys(), rule.Groups) {
				opts.Logf("%s: its recipients differ from .sops.yaml; run 'nixctl secrets rekey %s'", rel, rel)
			}
		}
	}
	return res, nil
}

// removeStaleEditDirs removes the edit directories of nixctl processes that
// no longer exist: only SIGKILL (or a crash) can leave one behind, and the
// next edit cleans it up.
func removeStaleEditDirs(base string) {
	matches, _ := filepath.Glob(filepath.Join(base, "nixctl-edit-*-*"))
	for _, m := range matches {
		parts := strings.SplitN(filepath.Base(m), "-", 4)
		if len(parts) != 4 {
			continue
		}
		pid, err := strconv.Atoi(parts[2])
		if err != nil || pid <= 0 || pid == os.Getpid() {
			continue
		}
		st, err := os.Lstat(m)
		if err != nil || !st.IsDir() {
			continue
		}
		if sys, ok := st.Sys().(*syscall.Stat_t); !ok || int(sys.Uid) != os.Getuid() {
			continue
		}
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			os.RemoveAll(m)
		}
	}
}

func writeNew(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// A rejected edit is kept encrypted with the file's own data key (AES-GCM,
// bound to the file's path), so only those who can read the secret can read
// it, and it becomes unreadable once the data key rotates.
type rejectedEdit struct {
	Path  string    `json:"path"`
	Saved time.Time `json:"saved"`
	Data  string    `json:"data"`
}

func rejectedPath(stateDir, path string) string {
	sum := sha256.Sum256([]byte(path))
	return filepath.Join(stateDir, "rejected-edits", hex.EncodeToString(sum[:12])+".json")
}

func (s *Session) saveRejected(file, path string, key, text []byte) error {
	enc, err := s.cipher.Encrypt(string(text), key, "nixctl-rejected-edit:"+path)
	if err != nil {
		return err
	}
	data, err := json.Marshal(rejectedEdit{Path: path, Saved: s.Now().UTC(), Data: enc})
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return err
	}
	return WriteFile(file, data, 0o600)
}

func (s *Session) loadRejected(file, path string, key []byte) ([]byte, time.Time, bool) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, time.Time{}, false
	}
	var r rejectedEdit
	if json.Unmarshal(data, &r) != nil || r.Path != path {
		return nil, time.Time{}, false
	}
	v, err := s.cipher.Decrypt(r.Data, key, "nixctl-rejected-edit:"+path)
	text, ok := v.(string)
	if err != nil || !ok {
		return nil, time.Time{}, false
	}
	return []byte(text), r.Saved, true
}
