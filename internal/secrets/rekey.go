package secrets

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/nixctl/nixctl/internal/fault"
)

// RekeyLine is the outcome for one file.
type RekeyLine struct {
	Path    string   `json:"path"`
	Added   []string `json:"added,omitempty"`
	Removed []string `json:"removed,omitempty"`
	Rotated bool     `json:"rotated"`
	Changed bool     `json:"changed"`
	Error   string   `json:"error,omitempty"`
}

// String is the one line printed per file.
func (l RekeyLine) String() string {
	switch {
	case l.Error != "":
		return l.Path + ": " + l.Error
	case !l.Changed:
		return l.Path + ": up to date"
	}
	var parts []string
	if len(l.Added) > 0 {
		parts = append(parts, "gains access: "+strings.Join(l.Added, ", "))
	}
	if len(l.Removed) > 0 {
		parts = append(parts, "loses access: "+strings.Join(l.Removed, ", "))
	}
	if l.Rotated {
		parts = append(parts, "data key rotated")
	}
	if len(parts) == 0 {
		parts = append(parts, "key groups rewritten")
	}
	return l.Path + ": " + strings.Join(parts, "; ")
}

// RekeyAll brings the files named (relative to the secrets directory) or,
// with none, every sops file under it in line with .sops.yaml. Every file
// is rekeyed in memory first and report is called once per file, saying
// who gains and who loses access; only when all of them succeeded are the
// files written. Files that are not sops files are skipped (verify reports
// them).
func (s *Session) RekeyAll(ctx context.Context, userPaths []string, w Writer, report func(RekeyLine)) ([]RekeyLine, error) {
	if err := s.requireConfig(); err != nil {
		return nil, err
	}
	var paths []string
	if len(userPaths) > 0 {
		for _, p := range userPaths {
			abs, err := s.Repo.Resolve(p)
			if err != nil {
				return nil, err
			}
			paths = append(paths, abs)
		}
	} else {
		files, err := s.treeFiles()
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			if f.problem == "" {
				paths = append(paths, f.abs)
			}
		}
	}
	var planned []plannedFile
	for _, p := range paths {
		if err := ctx.Err(); err != nil {
			return nil, fault.Newf(fault.Interrupted, "run it again: nothing was written", "interrupted after %d of %d files", len(planned), len(paths))
		}
		pf := s.planRekey(p)
		if pf.line.Error != "" && len(userPaths) == 0 && pf.notSops {
			continue
		}
		planned = append(planned, pf)
	}
	return s.writePlanned(planned, nil, w, report)
}

// plannedFile is one file rekeyed in memory, not yet written.
type plannedFile struct {
	path    string
	out     []byte
	line    RekeyLine
	notSops bool
}

func (s *Session) planRekey(path string) plannedFile {
	pf := plannedFile{path: path, line: RekeyLine{Path: printable(s.Repo.Rel(path))}}
	data, _, err := readSecret(path)
	if err != nil {
		pf.line.Error = errText(err)
		return pf
	}
	out, res, err := s.Rekey(path, data)
	if err != nil {
		pf.notSops = errors.Is(err, ErrNotSopsFile)
		pf.line.Error = errText(err)
		if h := fault.HintOf(s.fileError(path, err)); h != "" && h != fault.HintOf(err) {
			pf.line.Error += " (" + h + ")"
		}
		return pf
	}
	pf.out = out
	pf.line.Added, pf.line.Removed, pf.line.Rotated, pf.line.Changed = s.keyNames(res.Added), s.keyNames(res.Removed), res.Rotated, res.Changed
	return pf
}

// writePlanned reports every planned file, then writes the changed ones.
// With config (an access change), it is all or nothing: if a file cannot
// be rekeyed, nothing is written, config included. Without (secrets
// rekey), the files that could be rekeyed are written and the others are
// counted in the error.
func (s *Session) writePlanned(planned []plannedFile, config *SopsConfig, w Writer, report func(RekeyLine)) ([]RekeyLine, error) {
	var lines []RekeyLine
	var failed []string
	for _, pf := range planned {
		lines = append(lines, pf.line)
		if pf.line.Error != "" {
			failed = append(failed, pf.line.Path)
		}
		if report != nil {
			report(pf.line)
		}
	}
	if config != nil {
		if len(failed) > 0 {
			return lines, fault.Newf(fault.Secrets, "fix what each line says (a key here that opens them; sops itself for pgp or KMS rules), then run it again",
				"%d of %d file(s) cannot be rekeyed, so nothing was written, %s included: %s", len(failed), len(planned), filepath.Base(config.Path), strings.Join(failed, ", "))
		}
		if err := w.WriteFile(config.Path, config.Data, 0o644); err != nil {
			return lines, fault.New(fault.Failure, fmt.Errorf("writing %s: %w", s.Repo.Rel(config.Path), err), "")
		}
		s.Config = config
	}
	for i, pf := range planned {
		if !pf.line.Changed || pf.line.Error != "" {
			continue
		}
		if err := w.WriteFile(pf.path, pf.out, 0o644); err != nil {
			lines[i].Error = fmt.Sprintf("writing: %v", err)
			failed = append(failed, pf.line.Path)
			if report != nil {
				report(lines[i])
			}
		}
	}
	if len(failed) > 0 {
		hint := "fix the files listed and run 'nixctl secrets rekey' again"
		if config != nil {
			hint = "run 'nixctl secrets rekey' to finish once the cause is fixed"
		}
		return lines, fault.Newf(fault.Secrets, hint, "%d of %d file(s) could not be rekeyed", len(failed), len(planned))
	}
	return lines, nil
}
