package ci

import (
	"fmt"
	"io"
	"strings"
)

// Annotations are GitHub Actions workflow commands, one per problem:
//
//	::error file=hosts/a.nix,line=3,col=5,title=nixctl ci evaluate: host a::message
//
// GitHub shows them on the diff of the pull request and in the run summary.
// Forgejo's runner understands the same commands.

// WriteAnnotations writes an ::error command for every problem of every
// failed case.
func (r *Report) WriteAnnotations(w io.Writer) error {
	for _, st := range r.Stages {
		for _, c := range st.Cases {
			if c.Status != Failed {
				continue
			}
			problems := c.Problems
			if len(problems) == 0 {
				problems = []Problem{{Message: "failed"}}
			}
			for _, p := range problems {
				if _, err := io.WriteString(w, Annotation(p, "nixctl ci "+st.Name+": "+CaseName(c))+"\n"); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// Annotation is one ::error command for p.
func Annotation(p Problem, title string) string {
	var props []string
	if p.File != "" {
		props = append(props, "file="+escapeProperty(p.File))
		if p.Line > 0 {
			props = append(props, fmt.Sprintf("line=%d", p.Line))
			if p.Column > 0 {
				props = append(props, fmt.Sprintf("col=%d", p.Column))
			}
		}
	}
	if title != "" {
		props = append(props, "title="+escapeProperty(title))
	}
	cmd := "::error"
	if len(props) > 0 {
		cmd += " " + strings.Join(props, ",")
	}
	return cmd + "::" + escapeData(p.Message)
}

// escapeData escapes a command's message as the Actions runner expects.
func escapeData(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(s)
}

// escapeProperty escapes a property value: as data, plus ':' and ','.
func escapeProperty(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C").Replace(s)
}
