package cli

import (
	"bytes"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"github.com/nixctl/nixctl/internal/app"
	"github.com/nixctl/nixctl/internal/config"
	"github.com/nixctl/nixctl/internal/testutil"
	"github.com/nixctl/nixctl/internal/ui"
)

// readmeTable returns the rows (cells trimmed) of the first table under the
// README heading title.
func readmeTable(t *testing.T, readme, title string) [][]string {
	t.Helper()
	_, after, ok := strings.Cut(readme, "\n## "+title+"\n")
	if !ok {
		t.Fatalf("README has no '## %s' section", title)
	}
	if i := strings.Index(after, "\n## "); i >= 0 {
		after = after[:i]
	}
	var rows [][]string
	for _, line := range strings.Split(after, "\n") {
		if !strings.HasPrefix(line, "|") || strings.HasPrefix(line, "|---") {
			continue
		}
		// A \| inside a cell is a literal bar.
		line = strings.ReplaceAll(line, `\|`, "\x00")
		cells := strings.Split(strings.Trim(line, "|"), "|")
		for i, c := range cells {
			cells[i] = strings.TrimSpace(strings.ReplaceAll(c, "\x00", "|"))
		}
		rows = append(rows, cells)
	}
	if len(rows) < 2 {
		t.Fatalf("README's %q table has no rows", title)
	}
	return rows[1:] // without the header
}

// exitCodeConstants reads internal/exitcode's constants from its source, so
// a constant added there without a README row fails this test.
func exitCodeConstants(t *testing.T, root string) map[int]string {
	t.Helper()
	file, err := parser.ParseFile(token.NewFileSet(), filepath.Join(root, "internal/exitcode/exitcode.go"), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	codes := map[int]string{}
	for _, decl := range file.Decls {
		g, ok := decl.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, spec := range g.Specs {
			vs := spec.(*ast.ValueSpec)
			for i, name := range vs.Names {
				lit, ok := vs.Values[i].(*ast.BasicLit)
				if !ok || lit.Kind != token.INT {
					t.Fatalf("exitcode.%s is not an integer literal", name.Name)
				}
				n, _ := strconv.Atoi(lit.Value)
				if prev, dup := codes[n]; dup {
					t.Errorf("exitcode.%s and exitcode.%s are both %d", prev, name.Name, n)
				}
				codes[n] = name.Name
			}
		}
	}
	return codes
}

func TestREADMEExitCodesMatchTheCode(t *testing.T) {
	t.Parallel()
	root := testutil.RepoRoot(t)
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	codes := exitCodeConstants(t, root)
	documented := map[int]bool{}
	for _, row := range readmeTable(t, string(readme), "Exit codes") {
		n, err := strconv.Atoi(row[0])
		if err != nil || len(row) < 2 || row[1] == "" {
			t.Errorf("README exit-code row %q: want | code | meaning |", row)
			continue
		}
		documented[n] = true
		if _, ok := codes[n]; !ok {
			t.Errorf("README documents exit code %d, which internal/exitcode does not define", n)
		}
	}
	for n, name := range codes {
		if !documented[n] {
			t.Errorf("exitcode.%s = %d is missing from README's exit-code table", name, n)
		}
	}
}

var (
	longFlagRe  = regexp.MustCompile("`--([a-z][a-z-]*)")
	shortFlagRe = regexp.MustCompile("`-([a-zA-Z])`")
	envRe       = regexp.MustCompile(`NIXCTL_[A-Z_]+`)
)

func TestREADMEGlobalFlagsMatchTheCode(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile(filepath.Join(testutil.RepoRoot(t), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	type doc struct{ short, env string }
	documented := map[string]doc{}
	for _, row := range readmeTable(t, string(readme), "Global flags") {
		m := longFlagRe.FindStringSubmatch(row[0])
		if m == nil || len(row) < 3 {
			t.Errorf("README global-flag row %q: want | `--flag` | `NIXCTL_…` | meaning |", row)
			continue
		}
		d := doc{env: envRe.FindString(row[1])}
		if s := shortFlagRe.FindStringSubmatch(row[0]); s != nil {
			d.short = s[1]
		}
		documented[m[1]] = d
	}

	var sink bytes.Buffer
	root := newRootCmd(app.New(app.Parts{Stdio: ui.Stdio{In: strings.NewReader(""), Out: &sink, Err: &sink}}))
	flags := root.PersistentFlags()
	seen := 0
	flags.VisitAll(func(f *pflag.Flag) {
		seen++
		env := "NIXCTL_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		d, ok := documented[f.Name]
		switch {
		case !ok:
			t.Errorf("global flag --%s is missing from README's global-flag table", f.Name)
		case d.short != f.Shorthand:
			t.Errorf("--%s: README says shorthand %q, the code %q", f.Name, d.short, f.Shorthand)
		case d.env != env:
			t.Errorf("--%s: README says %q, the code reads %s", f.Name, d.env, env)
		}
		if !strings.Contains(f.Usage, "[$"+env+"]") {
			t.Errorf("--%s: its help does not name $%s", f.Name, env)
		}
		// The variable really sets the flag's value.
		value := "x"
		if f.Value.Type() == "bool" {
			value = "1"
		}
		fresh := func() *pflag.FlagSet {
			fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
			config.AddFlags(fs)
			return fs
		}
		before, err := config.Load(fresh(), app.NewEnv(nil).Settings)
		if err != nil {
			t.Fatal(err)
		}
		after, err := config.Load(fresh(), app.NewEnv([]string{env + "=" + value}).Settings)
		if err != nil {
			t.Errorf("%s=%s: %v", env, value, err)
		} else if reflect.DeepEqual(before, after) {
			t.Errorf("%s=%s changes nothing", env, value)
		}
	})
	if seen != len(documented) {
		for name := range documented {
			if flags.Lookup(name) == nil {
				t.Errorf("README documents --%s, which is not a global flag", name)
			}
		}
	}
}
