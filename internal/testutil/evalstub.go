package testutil

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/nixctl/nixctl/internal/execx"
)

// EvalAnswer is what one attribute evaluates to in an EvalStub.
type EvalAnswer struct {
	DrvPath string
	OutPath string
	// Failed: the evaluation throws (caught by builtins.tryEval), so nixctl
	// then evaluates the item alone; stub that command too.
	Failed bool
	// Value is the JSON an item with an Apply function evaluates to (the
	// same attribute's toplevel is answered with DrvPath and OutPath).
	Value string
}

var evalItemRe = regexp.MustCompile(`\(one (\d+) \w+ ("(?:[^"\\]|\\.)*") p\d+ (\w+)\)`)

// EvalStub answers nixctl's evaluation of many items in one process
// (`nix eval --json --apply EXPR FLAKE#OUTPUT`) for an execx.Recorder, as
// nix would print it: each attribute named in answers gives its answer,
// any other is missing from the output.
func EvalStub(answers map[string]EvalAnswer) *execx.Stub {
	return EvalStubFunc(func(name string) (EvalAnswer, bool) {
		a, ok := answers[name]
		return a, ok
	})
}

// EvalStubFunc is EvalStub answering each attribute from answer (false:
// missing from the output).
func EvalStubFunc(answer func(name string) (EvalAnswer, bool)) *execx.Stub {
	return &execx.Stub{Prefix: []string{"nix", "eval", "--json", "--apply"}, Func: evalAnswers(4, answer)}
}

// EvalFlakeStub is EvalStub for the same evaluation through
// builtins.getFlake (`nix eval --json --impure --expr EXPR`).
func EvalFlakeStub(answers map[string]EvalAnswer) *execx.Stub {
	return EvalFlakeStubFunc(func(name string) (EvalAnswer, bool) {
		a, ok := answers[name]
		return a, ok
	})
}

// EvalFlakeStubFunc is EvalFlakeStub answering each attribute from answer.
func EvalFlakeStubFunc(answer func(name string) (EvalAnswer, bool)) *execx.Stub {
	return &execx.Stub{Prefix: []string{"nix", "eval", "--json", "--impure", "--expr"}, Func: evalAnswers(5, answer)}
}

// evalAnswers answers the expression at argv[at].
func evalAnswers(at int, answer func(name string) (EvalAnswer, bool)) func(c execx.Cmd) (string, int) {
	return func(c execx.Cmd) (string, int) {
		var out []string
		for _, m := range evalItemRe.FindAllStringSubmatch(c.Argv[at], -1) {
			name, err := strconv.Unquote(strings.ReplaceAll(m[2], `\$`, `$`))
			if err != nil {
				return "bad attribute literal " + m[2], 1
			}
			a, ok := answer(name)
			switch {
			case !ok:
				out = append(out, "nixctl-eval missing "+m[1])
			case a.Failed:
				out = append(out, "nixctl-eval failed "+m[1])
			case m[3] != "null":
				out = append(out, fmt.Sprintf(`nixctl-eval done %s {"j":%s}`, m[1], a.Value))
			default:
				if a.OutPath == "" {
					a.OutPath = strings.TrimSuffix(a.DrvPath, ".drv")
				}
				v, _ := json.Marshal(map[string]string{"d": a.DrvPath, "o": a.OutPath})
				out = append(out, fmt.Sprintf("nixctl-eval done %s %s", m[1], v))
			}
		}
		if len(out) == 0 && at == 5 {
			// One item alone (nix.EvalOneFlake): only failed items are
			// evaluated alone, and they fail again.
			return "", 1
		}
		b, _ := json.Marshal(out)
		return string(b), 0
	}
}
