package secrets

import (
	"context"
	"fmt"
	"strings"

	"github.com/nixctl/nixctl/internal/exitcode"
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
		parts = append(parts, "added "+strings.Join(l.Added, ", "))
	}
	if len(l.Removed) > 0 {
		parts = append(parts, "removed "+strings.Join(l.Removed, ", "))
	}
	if l.Rotated {
		parts = append(parts, "data key rotated")
	}
	if len(parts) == 0 {
		parts = append(parts, "key groups rewritten")
	}
	return l.Path + ": " + strings.Join(parts, "; ")
}

// RekeyAll rekeys the files named (relative to the secrets directory) or,
// with none, every sops file under it, calling report once per file. Files
// that are not sops files are skipped with a line (verify reports them).
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
	var lines []RekeyLine
	failed := 0
	for _, p := range paths {
		if err := ctx.Err(); err != nil {
			return lines, exitcode.Newf(exitcode.Interrupted, "run it again: files already rekeyed are skipped", "interrupted after %d of %d files", len(lines), len(paths))
		}
		l := s.rekeyOne(p, w)
		if l.Error != "" {
			failed++
		}
		lines = append(lines, l)
		if report != nil {
			report(l)
		}
	}
	if failed > 0 {
		return lines, exitcode.Newf(exitcode.Secrets, "fix the files listed and run 'nixctl secrets rekey' again",
			"%d of %d file(s) could not be rekeyed", failed, len(paths))
	}
	return lines, nil
}

func (s *Session) rekeyOne(path string, w Writer) RekeyLine {
	l := RekeyLine{Path: printable(s.Repo.Rel(path))}
	data, _, err := readSecret(path)
	if err != nil {
		l.Error = errText(err)
		return l
	}
	out, res, err := s.Rekey(path, data)
	if err != nil {
		l.Error = errText(err)
		if h := exitcode.HintOf(s.fileError(path, err)); h != "" && h != exitcode.HintOf(err) {
			l.Error += " (" + h + ")"
		}
		return l
	}
	l.Added, l.Removed, l.Rotated, l.Changed = s.names(res.Added), s.names(res.Removed), res.Rotated, res.Changed
	if res.Changed {
		if err := w.WriteFile(path, out, 0o644); err != nil {
			l.Error = fmt.Sprintf("writing: %v", err)
		}
	}
	return l
}
