package cli

import (
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nixctl/nixctl/internal/app"
	"github.com/nixctl/nixctl/internal/config"
	"github.com/nixctl/nixctl/internal/exitcode"
	"github.com/nixctl/nixctl/internal/fault"
	"github.com/nixctl/nixctl/internal/ui"
)

// renderRun is one render into fresh streams, with Main's own printing of
// the error it returns.
type renderRun struct {
	out, err, mainErr string
	code              int
	returned          error
}

func renderIn(t *testing.T, jsonOut bool, r printable) renderRun {
	t.Helper()
	var out, errb, mainErr strings.Builder
	deps := &app.Deps{IO: &ui.IO{Out: &out, Err: &errb}, Config: &config.Config{JSON: jsonOut}}
	returned := render(deps, r)
	code := exitcode.OK
	if returned != nil {
		code = report(&ui.IO{Err: &mainErr}, returned)
	}
	return renderRun{out.String(), errb.String(), mainErr.String(), code, returned}
}

type probeResult struct {
	Name  string `json:"name"`
	Items []int  `json:"items"`
	fail  error
}

func (p probeResult) text(io *ui.IO) {
	io.Printf("%s: %d items\n", p.Name, len(p.Items))
	io.Logf("a note on stderr")
}

func (p probeResult) verdict() error { return p.fail }

type shapedResult struct{ probeResult }

func (s shapedResult) json() any { return map[string]string{"shaped": s.Name} }

func TestRenderPrintsTextOrTheDocumentAndFailsTheSameWay(t *testing.T) {
	t.Parallel()
	broken := fault.Newf(fault.Check, "fix it", "%s is broken", "web")
	for _, tc := range []struct {
		name     string
		json     bool
		r        printable
		out      string
		err      string
		mainErr  string
		code     int
		sameFail bool
	}{
		{name: "text passes", r: probeResult{Name: "web", Items: []int{1, 2}},
			out: "web: 2 items\n", err: "a note on stderr\n"},
		{name: "text fails with the fault itself", r: probeResult{Name: "web", fail: broken},
			out: "web: 0 items\n", err: "a note on stderr\n", mainErr: "nixctl: error: web is broken\nnixctl: hint: fix it\n",
			code: exitcode.For(fault.Check), sameFail: true},
		{name: "json passes", json: true, r: probeResult{Name: "web", Items: []int{1}},
			out: "{\n  \"name\": \"web\",\n  \"items\": [\n    1\n  ]\n}\n"},
		{name: "json fails silently with the kind", json: true, r: probeResult{Name: "web", fail: broken},
			out: "{\n  \"name\": \"web\",\n  \"items\": null\n}\n", code: exitcode.For(fault.Check)},
		{name: "json of a shaped result", json: true, r: shapedResult{probeResult{Name: "web"}},
			out: "{\n  \"shaped\": \"web\"\n}\n"},
		{name: "text of a shaped result", r: shapedResult{probeResult{Name: "web"}},
			out: "web: 0 items\n", err: "a note on stderr\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := renderIn(t, tc.json, tc.r)
			if got.out != tc.out || got.err != tc.err || got.mainErr != tc.mainErr || got.code != tc.code {
				t.Errorf("stdout %q, stderr %q, Main printed %q, exit %d\nwant stdout %q, stderr %q, Main printed %q, exit %d",
					got.out, got.err, got.mainErr, got.code, tc.out, tc.err, tc.mainErr, tc.code)
			}
			if tc.sameFail && !errors.Is(got.returned, broken) {
				t.Errorf("returned %v, want the verdict itself", got.returned)
			}
		})
	}
}

// A report that passes or fails as a whole prints "ok" first, then its
// own fields, unescaped; a failed one exits with the verdict's kind after
// printing.
func TestRenderOKFirst(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		ok     bool
		report any
		want   string
		code   int
	}{
		{true, struct {
			Files []string `json:"files"`
		}{[]string{"a<b>.yaml"}}, "{\n  \"ok\": true,\n  \"files\": [\n    \"a<b>.yaml\"\n  ]\n}\n", exitcode.OK},
		{false, struct{}{}, "{\n  \"ok\": false\n}\n", exitcode.Secrets},
	} {
		var fail error
		if !tc.ok {
			fail = fault.Newf(fault.Secrets, "", "not ok")
		}
		got := renderIn(t, true, okFirstProbe{okFirst{tc.ok, tc.report}, fail})
		if got.out != tc.want || got.code != tc.code || got.mainErr != "" {
			t.Errorf("ok=%v: exit %d, Main printed %q, printed\n%s\nwant\n%s", tc.ok, got.code, got.mainErr, got.out, tc.want)
		}
	}
}

type okFirstProbe struct {
	doc  okFirst
	fail error
}

func (p okFirstProbe) text(*ui.IO)    {}
func (p okFirstProbe) json() any      { return p.doc }
func (p okFirstProbe) verdict() error { return p.fail }

// Items printed as they come are text only: with --json the document at
// the end holds them.
func TestTextAsItComes(t *testing.T) {
	t.Parallel()
	for _, jsonOut := range []bool{false, true} {
		var out strings.Builder
		deps := &app.Deps{IO: &ui.IO{Out: &out}, Config: &config.Config{JSON: jsonOut}}
		each := textAsItComes(deps, func(io *ui.IO, n int) { io.Printf("item %d\n", n) })
		each(1)
		each(2)
		want := "item 1\nitem 2\n"
		if jsonOut {
			want = ""
		}
		if out.String() != want {
			t.Errorf("json=%v: printed %q, want %q", jsonOut, out.String(), want)
		}
	}
}

// jsonReaders are the only places besides render.go that may look at
// --json, each because --json changes what is done there, not how a result
// is printed. Any other reader, or a call of PrintJSON, prints a result of
// its own: it belongs in a result's text method and render.
var jsonReaders = map[string]string{
	"ci.go:runCI":              "--json is the default of ci's own --json FILE",
	"plan.go:approvePlan":      "the plan approved before the question goes to stderr, or nowhere with --yes",
	"home.go:runHomeSwitch":    "the diffs before the question and a lone profile's problem are in the document",
	"secrets.go:runSecretsCat": "cat refuses --json: plaintext never goes into a document",
}

func TestOnlyRenderLooksAtJSON(t *testing.T) {
	t.Parallel()
	paths, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	used := map[string]bool{}
	files := 0
	for _, path := range paths {
		if strings.HasSuffix(path, "_test.go") || path == "render.go" {
			continue
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		files++
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok {
				continue
			}
			ast.Inspect(fn, func(n ast.Node) bool {
				sel, ok := n.(*ast.SelectorExpr)
				if !ok {
					return true
				}
				if sel.Sel.Name == "PrintJSON" {
					t.Errorf("%s: %s prints JSON itself: build a result and hand it to render", fset.Position(sel.Pos()), fn.Name.Name)
				}
				if cfg, ok := sel.X.(*ast.SelectorExpr); ok && sel.Sel.Name == "JSON" && cfg.Sel.Name == "Config" {
					where := path + ":" + fn.Name.Name
					if _, ok := jsonReaders[where]; ok {
						used[where] = true
					} else {
						t.Errorf("%s: %s reads --json: build a result and hand it to render", fset.Position(sel.Pos()), fn.Name.Name)
					}
				}
				return true
			})
		}
	}
	if files < 20 {
		t.Fatalf("read %d files of the package; run from its directory", files)
	}
	for where, why := range jsonReaders {
		if !used[where] {
			t.Errorf("%s no longer reads --json (%s): remove it from jsonReaders", where, why)
		}
	}
}
