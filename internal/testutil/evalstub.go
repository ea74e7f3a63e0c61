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
}

var evalItemRe = regexp.MustCompile(`\(one (\d+) \w+ ("(?:[^"\\]|\\.)*") p\d+ \w+\)`)

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
	return &execx.Stub{
		Prefix: []string{"nix", "eval", "--json", "--apply"},
		Func: func(c execx.Cmd) (string, int) {
			var out []string
			for _, m := range evalItemRe.FindAllStringSubmatch(c.Argv[4], -1) {
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
				default:
					if a.OutPath == "" {
						a.OutPath = strings.TrimSuffix(a.DrvPath, ".drv")
					}
					v, _ := json.Marshal(map[string]string{"d": a.DrvPath, "o": a.OutPath})
					out = append(out, fmt.Sprintf("nixctl-eval done %s %s", m[1], v))
				}
			}
			b, _ := json.Marshal(out)
			return string(b), 0
		},
	}
}
