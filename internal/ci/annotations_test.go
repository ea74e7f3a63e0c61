package ci

import (
	"bytes"
	"testing"
)

func TestAnnotation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		p     Problem
		title string
		want  string
	}{
		{"location", Problem{File: "hosts/a.nix", Line: 3, Column: 5, Message: "undefined variable 'pkgs'"}, "nixctl ci evaluate: host a",
			"::error file=hosts/a.nix,line=3,col=5,title=nixctl ci evaluate%3A host a::undefined variable 'pkgs'"},
		{"file only", Problem{File: "secrets/a,b.yaml", Message: "not encrypted"}, "",
			"::error file=secrets/a%2Cb.yaml::not encrypted"},
		{"no location", Problem{Message: "nix flake check failed"}, "",
			"::error::nix flake check failed"},
		{"escapes data", Problem{File: "a:b.nix", Line: 1, Message: "100% broken\r\nsecond line: a, b"}, "t",
			"::error file=a%3Ab.nix,line=1,title=t::100%25 broken%0D%0Asecond line: a, b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Annotation(tt.p, tt.title); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestWriteAnnotationsOnlyFailures(t *testing.T) {
	t.Parallel()
	rep := &Report{Stages: []Stage{
		{Name: StageEvaluate, Cases: []Case{
			{Kind: "host", Name: "a", Status: Passed},
			{Kind: "host", Name: "b", Status: Failed, Problems: []Problem{{File: "hosts/b.nix", Line: 2, Column: 3, Message: "x"}, {Message: "y"}}},
		}},
		{Name: StageBuild, Status: Skipped, Reason: "--no-build"},
	}}
	var b bytes.Buffer
	if err := rep.WriteAnnotations(&b); err != nil {
		t.Fatal(err)
	}
	want := "::error file=hosts/b.nix,line=2,col=3,title=nixctl ci evaluate%3A host b::x\n" +
		"::error title=nixctl ci evaluate%3A host b::y\n"
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}
