package nix

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// Error is one error nix reported, with its location when nix gave one.
type Error struct {
	File    string `json:"file,omitempty"`
	Line    int    `json:"line,omitempty"`
	Column  int    `json:"column,omitempty"`
	Message string `json:"message"`
}

// Location is file:line:column, or "" when unknown.
func (e Error) Location() string {
	if e.File == "" {
		return ""
	}
	s := e.File
	if e.Line > 0 {
		s += ":" + strconv.Itoa(e.Line)
		if e.Column > 0 {
			s += ":" + strconv.Itoa(e.Column)
		}
	}
	return s
}

func (e Error) String() string {
	if loc := e.Location(); loc != "" {
		return loc + ": " + e.Message
	}
	return e.Message
}

var (
	ansiRe = regexp.MustCompile(`\x1b\[[0-9;?]*[A-Za-z]`)
	// "at /nix/store/…-source/hosts/a.nix:12:5:" and "«…» at …" forms.
	atRe = regexp.MustCompile(`at (/[^\s:]+|«[^»]+»)(?::(\d+)(?::(\d+))?)?:?`)
	// nix 2.8 error texts end with a line like "       at /path:3:5:".
	storeSrcRe = regexp.MustCompile(`^/nix/store/[a-z0-9]{32}-[^/]*source/`)
)

// StripANSI removes terminal escape codes.
func StripANSI(s string) string { return ansiRe.ReplaceAllString(s, "") }

type logLine struct {
	Action string  `json:"action"`
	Level  *int    `json:"level"`
	Msg    string  `json:"msg"`
	Raw    string  `json:"raw_msg"`
	File   *string `json:"file"`
	Line   *int    `json:"line"`
	Column *int    `json:"column"`
	Trace  []struct {
		File   *string `json:"file"`
		Line   *int    `json:"line"`
		Column *int    `json:"column"`
	} `json:"trace"`
}

// definedInRe finds the file named by the module system's type errors:
// "Definition values: - In `/nix/store/…-source/hosts/a.nix': 42".
var definedInRe = regexp.MustCompile("In `(/nix/store/[^']+)'")

// ParseErrors extracts errors from nix's stderr. It understands
// --log-format internal-json ("@nix {…}" lines) and falls back to the plain
// "error: …" text. repo, when set, turns /nix/store/…-source/ paths back into
// paths relative to the repository.
func ParseErrors(stderr []byte, repo string) []Error {
	var errs []Error
	var plain bytes.Buffer
	sc := bufio.NewScanner(bytes.NewReader(stderr))
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "@nix "); ok {
			var l logLine
			if json.Unmarshal([]byte(rest), &l) != nil {
				continue
			}
			if l.Action != "msg" || l.Level == nil || *l.Level != 0 {
				continue
			}
			// "error (ignored): … SQLite database … is busy": concurrent
			// evaluations share the eval cache; nix carries on.
			if strings.Contains(StripANSI(l.Msg), "error (ignored)") || IsEvalTrace(StripANSI(l.Msg)) {
				continue
			}
			e := fromMessage(StripANSI(l.Msg))
			if l.Raw != "" {
				e.Message = oneLine(StripANSI(l.Raw))
			}
			// Prefer nix's own position; else the innermost frame of the
			// trace that lies in the repository (not in nixpkgs).
			if l.File != nil && *l.File != "" {
				e.File, e.Line, e.Column = *l.File, deref(l.Line), deref(l.Column)
			} else {
				for _, t := range l.Trace {
					if t.File != nil && inRepo(*t.File, repo) {
						e.File, e.Line, e.Column = *t.File, deref(t.Line), deref(t.Column)
						break
					}
				}
			}
			if e.File == "" || !inRepo(e.File, repo) {
				if m := definedInRe.FindStringSubmatch(e.Message); m != nil && inRepo(m[1], repo) {
					e.File, e.Line, e.Column = m[1], 0, 0
				}
			}
			errs = append(errs, e)
			continue
		}
		plain.WriteString(line + "\n")
	}
	if len(errs) == 0 {
		errs = parsePlain(StripANSI(plain.String()))
	}
	for i := range errs {
		errs[i].File = relativize(errs[i].File, repo)
	}
	return errs
}

// fromMessage turns one nix error text into an Error: the first "error:" line
// is the message (with the lines that explain it), the last "at FILE:L:C" the
// location (the innermost frame nix shows is the first; the user's code is
// usually the last frame before the error line).
func fromMessage(msg string) Error {
	msg = strings.TrimSpace(msg)
	lines := strings.Split(msg, "\n")
	var e Error
	var text []string
	for _, l := range lines {
		t := strings.TrimSpace(l)
		if t == "" || strings.HasPrefix(t, "… ") || strings.HasPrefix(t, "(use '--show-trace'") || strings.HasPrefix(t, "(stack trace") || strings.HasPrefix(t, "|") || isSnippet(t) {
			continue
		}
		if m := atRe.FindStringSubmatch(t); m != nil && strings.HasPrefix(t, "at ") {
			if !strings.HasPrefix(m[1], "«") {
				e.File = m[1]
				e.Line, _ = strconv.Atoi(m[2])
				e.Column, _ = strconv.Atoi(m[3])
			}
			continue
		}
		text = append(text, strings.TrimPrefix(t, "error: "))
	}
	e.Message = strings.Join(text, " ")
	if i := strings.Index(e.Message, " at /"); i > 0 && e.File == "" {
		if m := atRe.FindStringSubmatch(e.Message[i:]); m != nil {
			e.File = m[1]
			e.Line, _ = strconv.Atoi(m[2])
			e.Column, _ = strconv.Atoi(m[3])
			e.Message = strings.TrimSpace(e.Message[:i])
		}
	}
	e.Message = strings.TrimSuffix(e.Message, ":")
	return e
}

// isSnippet recognises nix's source excerpts ("   12|   foo = 1;").
func isSnippet(t string) bool {
	i := strings.IndexByte(t, '|')
	if i <= 0 {
		return false
	}
	_, err := strconv.Atoi(strings.TrimSpace(t[:i]))
	return err == nil
}

func parsePlain(s string) []Error {
	var errs []Error
	var cur []string
	flush := func() {
		if len(cur) > 0 {
			errs = append(errs, fromMessage(strings.Join(cur, "\n")))
			cur = nil
		}
	}
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, "error (ignored):") {
			flush()
			continue
		}
		if strings.HasPrefix(l, "error:") {
			flush()
			cur = append(cur, l)
			continue
		}
		if len(cur) > 0 && (strings.HasPrefix(l, " ") || l == "") {
			cur = append(cur, l)
			continue
		}
		flush()
	}
	flush()
	return errs
}

func deref(p *int) int {
	if p == nil {
		return 0
	}
	return *p
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// inRepo reports whether a file nix names belongs to the repository: a
// path below repo, or a store copy whose relative path exists in repo.
func inRepo(file, repo string) bool {
	if repo == "" {
		return !strings.HasPrefix(file, "/nix/store/") || storeSrcRe.MatchString(file)
	}
	if strings.HasPrefix(file, repo+"/") {
		return true
	}
	if loc := storeSrcRe.FindStringIndex(file); loc != nil {
		_, err := os.Stat(filepath.Join(repo, file[loc[1]:]))
		return err == nil
	}
	return false
}

func relativize(file, repo string) string {
	if file == "" {
		return ""
	}
	if loc := storeSrcRe.FindStringIndex(file); loc != nil {
		return file[loc[1]:]
	}
	if repo != "" && strings.HasPrefix(file, repo+"/") {
		return strings.TrimPrefix(file, repo+"/")
	}
	return file
}

// IsMissingAttr reports nix's "does not provide attribute" error, which
// means an output such as homeConfigurations does not exist.
func IsMissingAttr(stderr []byte) bool {
	s := StripANSI(string(stderr))
	return strings.Contains(s, "does not provide attribute") || strings.Contains(s, "attribute '") && strings.Contains(s, "' missing")
}

// IsFetchError reports an error about fetching a flake input or a source:
// no network, an unknown host, a missing flake.lock entry offline.
func IsFetchError(msg string) bool {
	for _, s := range []string{"unable to download", "Couldn't resolve host", "Could not resolve host", "unable to fetch", "cannot fetch", "Failed to connect to"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}
