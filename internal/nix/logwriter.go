package nix

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// Activity types of nix's internal-json log that a person wants to see.
const actCopyPath = 100

// LogWriter turns nix's --log-format internal-json stream into the lines a
// person reads: messages up to info level, the builds and copies nix starts,
// and builders' own output. Plain lines pass through. It is what nixctl
// shows live and keeps in its log files; parsers read the raw stderr.
func LogWriter(w io.Writer) io.Writer { return &logWriter{w: w} }

type logWriter struct {
	w   io.Writer
	buf []byte
}

func (l *logWriter) Write(p []byte) (int, error) {
	l.buf = append(l.buf, p...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			return len(p), nil
		}
		line := string(l.buf[:i])
		l.buf = l.buf[i+1:]
		if out, ok := humanLine(line); ok {
			if _, err := fmt.Fprintln(l.w, out); err != nil {
				return 0, err
			}
		}
	}
}

// humanLine renders one line of nix's stderr; ok is false for lines that
// only drive nix's own progress bar.
func humanLine(line string) (string, bool) {
	rest, isJSON := strings.CutPrefix(line, "@nix ")
	if !isJSON {
		return line, true
	}
	var a struct {
		activity
		Text string `json:"text"`
	}
	if json.Unmarshal([]byte(rest), &a) != nil {
		return "", false
	}
	level := 0
	if a.Level != nil {
		level = *a.Level
	}
	switch {
	case a.Action == "msg" && level <= 3:
		return strings.TrimRight(StripANSI(a.Msg), "\n"), true
	case a.Action == "start" && (a.activity.Type == actBuild || a.activity.Type == actCopyPath) && a.Text != "" && level <= 3:
		return StripANSI(a.Text), true
	case a.Action == "result" && a.activity.Type == resBuildLogLin && len(a.Fields) > 0:
		var s string
		if json.Unmarshal(a.Fields[0], &s) == nil {
			return StripANSI(s), true
		}
	}
	return "", false
}
