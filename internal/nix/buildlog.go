package nix

import (
	"bufio"
	"bytes"
	"encoding/json"
	"regexp"
	"runtime"
	"strings"
)

// BuildFailure is a derivation nix reported as failed, with the last lines
// its builder printed when nix showed them.
type BuildFailure struct {
	Drv     string   `json:"drv"`
	Message string   `json:"message"`
	Log     []string `json:"log,omitempty"`
	// Dependencies is true for "N dependencies of derivation … failed to
	// build": the derivation itself never ran.
	Dependencies bool `json:"dependencies,omitempty"`
}

var (
	builderFailedRe = regexp.MustCompile(`builder for '(/nix/store/[^']+\.drv)' failed`)
	depsFailedRe    = regexp.MustCompile(`dependencies of derivation '(/nix/store/[^']+\.drv)' failed to build`)
)

// logTailLines is how many builder log lines a failure keeps.
const logTailLines = 10

type activity struct {
	Action string            `json:"action"`
	ID     uint64            `json:"id"`
	Type   int               `json:"type"`
	Level  *int              `json:"level"`
	Msg    string            `json:"msg"`
	Fields []json.RawMessage `json:"fields"`
}

// Activity and result types of nix's internal-json log.
const (
	actBuild       = 105
	resBuildLogLin = 101
)

// ParseBuildFailures finds the derivations a nix build (or flake check)
// failed to build, in either log format. With --log-format internal-json the
// builder's log lines are collected per build activity (nix leaves them out
// of the error message in that format).
func ParseBuildFailures(stderr []byte) []BuildFailure {
	var fails []BuildFailure
	drvOf := map[uint64]string{}
	logs := map[string][]string{}
	var plainLast *BuildFailure
	sc := bufio.NewScanner(bytes.NewReader(stderr))
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	for sc.Scan() {
		line := sc.Text()
		rest, isJSON := strings.CutPrefix(line, "@nix ")
		if !isJSON {
			clean := StripANSI(line)
			if f, ok := buildFailure(clean); ok {
				fails = append(fails, f)
				plainLast = &fails[len(fails)-1]
				continue
			}
			if t := strings.TrimSpace(clean); plainLast != nil && strings.HasPrefix(t, "> ") {
				plainLast.Log = append(plainLast.Log, strings.TrimPrefix(t, "> "))
			} else if !strings.HasPrefix(line, " ") {
				plainLast = nil
			}
			continue
		}
		var a activity
		if json.Unmarshal([]byte(rest), &a) != nil {
			continue
		}
		switch {
		case a.Action == "start" && a.Type == actBuild && len(a.Fields) > 0:
			var drv string
			if json.Unmarshal(a.Fields[0], &drv) == nil {
				drvOf[a.ID] = drv
			}
		case a.Action == "result" && a.Type == resBuildLogLin && len(a.Fields) > 0:
			var l string
			if drv, ok := drvOf[a.ID]; ok && json.Unmarshal(a.Fields[0], &l) == nil {
				logs[drv] = append(logs[drv], StripANSI(l))
			}
		case a.Action == "msg" && a.Level != nil && *a.Level == 0:
			if f, ok := buildFailure(StripANSI(a.Msg)); ok {
				fails = append(fails, f)
			}
		}
	}
	for i := range fails {
		if l := logs[fails[i].Drv]; len(l) > 0 && len(fails[i].Log) == 0 {
			fails[i].Log = l
		}
		if n := len(fails[i].Log); n > logTailLines {
			fails[i].Log = fails[i].Log[n-logTailLines:]
		}
	}
	return fails
}

func buildFailure(msg string) (BuildFailure, bool) {
	first := strings.TrimSpace(strings.SplitN(msg, "\n", 2)[0])
	first = strings.TrimPrefix(strings.TrimPrefix(first, "error (ignored): "), "error: ")
	first = strings.TrimSuffix(first, ";")
	if m := builderFailedRe.FindStringSubmatch(first); m != nil {
		return BuildFailure{Drv: m[1], Message: first}, true
	}
	if m := depsFailedRe.FindStringSubmatch(first); m != nil {
		return BuildFailure{Drv: m[1], Message: first, Dependencies: true}, true
	}
	return BuildFailure{}, false
}

// OutputError is an error nix reported together with the flake output it
// was checking, when nix's trace names one ("checks.x86_64-linux.fmt",
// "nixosConfigurations.gateway").
type OutputError struct {
	Error
	Output string `json:"output,omitempty"`
}

var outputRe = regexp.MustCompile(`(?:while checking the derivation|while checking flake output|checking NixOS configuration|while checking the NixOS configuration) '([^']+)'`)

const ignoredPrefix = "error (ignored): "

// unignore rewrites an internal-json message line without its "error
// (ignored): " prefix.
func unignore(line string) string {
	var m map[string]any
	if json.Unmarshal([]byte(strings.TrimPrefix(line, "@nix ")), &m) != nil {
		return line
	}
	if msg, ok := m["msg"].(string); ok {
		m["msg"] = strings.Replace(StripANSI(msg), ignoredPrefix, "", 1)
	}
	data, err := json.Marshal(m)
	if err != nil {
		return line
	}
	return "@nix " + string(data)
}

// summaryError is nix flake check's closing line after --keep-going errors.
const summaryError = "some errors were encountered during the evaluation"

// ParseOutputErrors is ParseErrors for nix flake check --log-format
// internal-json --show-trace: each error keeps the flake output its trace
// names, "error (ignored): " prefixes are dropped, and the closing "some
// errors were encountered" line is dropped when real errors precede it.
func ParseOutputErrors(stderr []byte, repo string) []OutputError {
	var out []OutputError
	var plain bytes.Buffer
	sc := bufio.NewScanner(bytes.NewReader(stderr))
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "@nix ") {
			plain.WriteString(line + "\n")
			continue
		}
		var a activity
		_ = json.Unmarshal([]byte(strings.TrimPrefix(line, "@nix ")), &a)
		if msg := StripANSI(a.Msg); strings.Contains(msg, ignoredPrefix) {
			// ParseErrors drops these (nix's eval cache being busy), but
			// with --keep-going nix flake check reports real errors so.
			if strings.Contains(msg, "SQLite") {
				continue
			}
			line = unignore(line)
		}
		errs := ParseErrors([]byte(line), repo)
		if len(errs) == 0 {
			continue
		}
		output := ""
		if m := outputRe.FindAllStringSubmatch(StripANSI(a.Msg), -1); m != nil {
			output = m[len(m)-1][1] // the outermost frame names the output
		}
		for _, e := range errs {
			e.Message = strings.TrimPrefix(e.Message, "error: ")
			out = append(out, OutputError{Error: e, Output: output})
		}
	}
	if len(out) == 0 {
		text := strings.ReplaceAll(plain.String(), "\n"+ignoredPrefix, "\n")
		text = strings.TrimPrefix(text, ignoredPrefix)
		for _, e := range ParseErrors([]byte(text), repo) {
			e.Message = strings.TrimPrefix(e.Message, "error: ")
			out = append(out, OutputError{Error: e})
		}
	}
	if len(out) > 1 {
		kept := out[:0]
		for _, e := range out {
			if e.Message != summaryError {
				kept = append(kept, e)
			}
		}
		out = kept
	}
	return out
}

// RepoPath turns a file nix names (a /nix/store/…-source/ copy or a path
// below repo) into a path relative to the repository.
func RepoPath(file, repo string) string { return relativize(file, repo) }

// Position is what builtins.unsafeGetAttrPos returns.
type Position struct {
	File   string `json:"file"`
	Line   int    `json:"line"`
	Column int    `json:"column"`
}

// EvalPositions evaluates, for the attribute set at path, where each of its
// attributes is defined (without evaluating the values): a JSON object
// name → {file, line, column}. depth 2 descends one more level, for
// checks.<system>.<name>.
func EvalPositions(flake string, path []string, depth int) []string {
	apply := "s: builtins.mapAttrs (n: _: builtins.unsafeGetAttrPos n s) s"
	if depth == 2 {
		apply = "s: builtins.mapAttrs (_: v: builtins.mapAttrs (n: _: builtins.unsafeGetAttrPos n v) v) s"
	}
	return Nix("eval", "--json", Installable(flake, path...), "--apply", apply)
}

// CheckAttr is the attribute path of one flake check.
func CheckAttr(system, name string) []string {
	return []string{"checks", Attr(system), Attr(name)}
}

// System is the Nix system string of this machine ("x86_64-linux"), the
// one nix flake check builds checks for.
func System() string {
	arch := runtime.GOARCH
	switch arch {
	case "amd64":
		arch = "x86_64"
	case "arm64":
		arch = "aarch64"
	case "386":
		arch = "i686"
	}
	return arch + "-" + runtime.GOOS
}
