package ci

import (
	"bytes"
	"encoding/xml"
	"strings"
	"testing"
	"time"
)

func TestWriteJUnit(t *testing.T) {
	t.Parallel()
	rep := &Report{Started: time.Date(2026, 11, 25, 22, 0, 0, 0, time.UTC), Duration: 1500 * time.Millisecond, Stages: []Stage{
		{Name: StageSecrets, Status: Failed, Cases: []Case{
			{Kind: KindSecret, Name: "secrets/a.yaml", Status: Failed, Duration: time.Second,
				Problems: []Problem{{File: "secrets/a.yaml", Message: "value \x1b[31m<not encrypted>\x1b[0m\x00"}}},
			{Kind: KindSecret, Name: "secrets/b.yaml", Status: Passed},
		}},
		{Name: StageBuild, Status: Skipped, Reason: "--no-build"},
	}}
	var b bytes.Buffer
	if err := rep.WriteJUnit(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(b.String(), `<?xml version="1.0" encoding="UTF-8"?>`) {
		t.Errorf("no XML header:\n%s", b.String())
	}
	var doc struct {
		Tests    int `xml:"tests,attr"`
		Failures int `xml:"failures,attr"`
		Skipped  int `xml:"skipped,attr"`
		Suites   []struct {
			Name  string `xml:"name,attr"`
			Cases []struct {
				Name      string `xml:"name,attr"`
				Classname string `xml:"classname,attr"`
				Time      string `xml:"time,attr"`
				File      string `xml:"file,attr"`
				Failure   *struct {
					Message string `xml:"message,attr"`
					Type    string `xml:"type,attr"`
				} `xml:"failure"`
				Skipped *struct {
					Message string `xml:"message,attr"`
				} `xml:"skipped"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatalf("invalid XML: %v\n%s", err, b.String())
	}
	if doc.Tests != 3 || doc.Failures != 1 || doc.Skipped != 1 || len(doc.Suites) != 2 {
		t.Fatalf("counts: tests %d failures %d skipped %d suites %d", doc.Tests, doc.Failures, doc.Skipped, len(doc.Suites))
	}
	c := doc.Suites[0].Cases[0]
	if c.Name != "secret secrets/a.yaml" || c.Classname != "nixctl.secrets" || c.Time != "1.000" || c.File != "secrets/a.yaml" {
		t.Errorf("testcase = %+v", c)
	}
	if c.Failure == nil || c.Failure.Message != "secrets/a.yaml: value <not encrypted>" || c.Failure.Type != "secrets" {
		t.Errorf("failure = %+v, want the location and the message without control characters", c.Failure)
	}
	if s := doc.Suites[1].Cases[0]; s.Skipped == nil || s.Skipped.Message != "--no-build" {
		t.Errorf("a skipped stage should show as a skipped case: %+v", s)
	}
}
