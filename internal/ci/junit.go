package ci

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/nixctl/nixctl/internal/nix"
)

// JUnit XML in the shape GitLab, Jenkins (junit plugin) and the GitHub
// report actions read: <testsuites> holding one <testsuite> per stage and a
// <testcase> per host, profile, secret file or check. A failure's message
// attribute is its first problem with location; the body lists them all.
// file and line on <testcase> let reporters annotate the source line.

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name      string      `xml:"name,attr"`
	Tests     int         `xml:"tests,attr"`
	Failures  int         `xml:"failures,attr"`
	Errors    int         `xml:"errors,attr"`
	Skipped   int         `xml:"skipped,attr"`
	Time      string      `xml:"time,attr"`
	Timestamp string      `xml:"timestamp,attr"`
	Cases     []junitCase `xml:"testcase"`
	SystemOut string      `xml:"system-out,omitempty"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	File      string        `xml:"file,attr,omitempty"`
	Line      int           `xml:"line,attr,omitempty"`
	Failure   *junitFailure `xml:"failure"`
	Skipped   *junitSkipped `xml:"skipped"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

type junitSkipped struct {
	Message string `xml:"message,attr,omitempty"`
}

// CaseName is how a case is named in reports: "host nixos-mini",
// "secret secrets/kubeconfig/a.yml", "check x86_64-linux.fmt".
func CaseName(c Case) string { return c.Kind + " " + c.Name }

// WriteJUnit writes the report as JUnit XML.
func (r *Report) WriteJUnit(w io.Writer) error {
	doc := junitSuites{Name: "nixctl ci", Time: secs(r.Duration)}
	for _, st := range r.Stages {
		s := junitSuite{Name: st.Name, Time: secs(st.Duration), Timestamp: r.Started.UTC().Format("2006-01-02T15:04:05")}
		if st.Status == Skipped && len(st.Cases) == 0 {
			// A skipped stage still shows in the test view, as one skipped case.
			st.Cases = []Case{{Kind: "stage", Name: st.Name, Status: Skipped, Reason: st.Reason}}
		}
		for _, c := range st.Cases {
			jc := junitCase{Name: CaseName(c), Classname: "nixctl." + st.Name, Time: secs(c.Duration), SystemOut: clean(c.Output)}
			s.Tests++
			switch c.Status {
			case Failed:
				s.Failures++
				jc.Failure = &junitFailure{Message: clean(c.Summary()), Type: st.Name}
				lines := make([]string, len(c.Problems))
				for i, p := range c.Problems {
					lines[i] = p.String()
				}
				text := strings.Join(lines, "\n")
				if c.Output != "" {
					text += "\n\n" + c.Output
				}
				jc.Failure.Text = clean(text)
				for _, p := range c.Problems {
					if p.File != "" {
						jc.File, jc.Line = p.File, p.Line
						break
					}
				}
			case Skipped:
				s.Skipped++
				jc.Skipped = &junitSkipped{Message: clean(c.Reason)}
			}
			s.Cases = append(s.Cases, jc)
		}
		doc.Tests += s.Tests
		doc.Failures += s.Failures
		doc.Skipped += s.Skipped
		doc.Suites = append(doc.Suites, s)
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("writing JUnit XML: %w", err)
	}
	_, err := io.WriteString(w, "\n")
	return err
}

func secs(d time.Duration) string { return fmt.Sprintf("%.3f", d.Seconds()) }

// clean drops what XML 1.0 cannot carry (encoding/xml would turn it into
// U+FFFD): terminal escapes and other control characters but tab and newline.
func clean(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\t' || r == '\n' {
			return r
		}
		if r < 0x20 || r == 0x7f || r == 0xfffe || r == 0xffff {
			return -1
		}
		return r
	}, nix.StripANSI(s))
}
