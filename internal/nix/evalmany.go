package nix

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// EvalItem is one value of a flake output that an evaluation of many
// computes: output.${Attr} followed by Path (for a host,
// nixosConfigurations.${attr}.config.system.build.toplevel).
type EvalItem struct {
	Attr string
	Path []string
}

// The expression evaluates its items one after the other in one nix
// process, so the expressions the items share (nixpkgs) are evaluated once.
// Each item is announced by a trace line before nix forces it, and its
// result follows as a second trace line; the same result is the item's
// element of the printed list. Whatever happens to the process, the traces
// tell which items finished and which one was being evaluated when an error
// that builtins.tryEval cannot catch (abort, a type error, infinite
// recursion) ended it. A missing attribute is reported, not an error.
const evalManyPrelude = `outs: let
  t = builtins.trace;
  m = "` + evalMarker + `";
  one = i: name: path: let
    s = toString i;
    r = if !(outs ? ${name}) then "missing ${s}" else let
      e = builtins.tryEval (let v = builtins.foldl' (a: n: a.${n}) outs.${name} path; in
        builtins.toJSON (if builtins.isAttrs v && v ? drvPath then { d = v.drvPath; o = v.outPath; } else { j = v; }));
    in if e.success then "done ${s} ${e.value}" else "failed ${s}";
  in t "${m} start ${s}" (t "${m} ${r}" "${m} ${r}");
`

// evalMarker starts every line the expression traces.
const evalMarker = "nixctl-eval"

// EvalManyExpr is the --apply function that evaluates items of one output.
// Index i of the results is items[i].
func EvalManyExpr(items []EvalItem) string {
	var b strings.Builder
	b.Grow(len(evalManyPrelude) + 48*len(items))
	b.WriteString(evalManyPrelude)
	// Items mostly share one path (a toplevel, an activation package):
	// name each distinct path once.
	paths := map[string]int{}
	var order []string
	for _, it := range items {
		k := strings.Join(it.Path, "\x00")
		if _, ok := paths[k]; !ok {
			paths[k] = len(order)
			order = append(order, k)
			fmt.Fprintf(&b, "  p%d = [", paths[k])
			for _, p := range it.Path {
				b.WriteByte(' ')
				b.WriteString(StringLiteral(p))
			}
			b.WriteString(" ];\n")
		}
	}
	b.WriteString("in [\n")
	for i, it := range items {
		fmt.Fprintf(&b, "  (one %d %s p%d)\n", i, StringLiteral(it.Attr), paths[strings.Join(it.Path, "\x00")])
	}
	b.WriteString("]\n")
	return b.String()
}

// StringLiteral quotes s as a Nix string: nothing in it is interpolated.
func StringLiteral(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"', '\\', '$':
			b.WriteByte('\\')
			b.WriteRune(r)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// EvalMany is the argv of one nix process that evaluates items of one flake
// output (nixosConfigurations, homeConfigurations). It stays in pure
// evaluation: --apply on the output, as nixos-rebuild and home-manager
// evaluate it, so a configuration that needs --impure fails here as it
// would there. --log-format internal-json makes the traces and the error
// parseable.
func EvalMany(flake, output string, items []EvalItem, extra ...string) []string {
	argv := Nix("eval", "--json", "--apply", EvalManyExpr(items), Installable(flake, output), "--log-format", "internal-json")
	return append(argv, extra...)
}

// EvalStatus is what became of one item.
type EvalStatus int

// Statuses an item goes through; an item with no event never started.
const (
	EvalStarted EvalStatus = iota + 1
	// EvalDone: DrvPath/OutPath or Value are set.
	EvalDone
	// EvalFailed: builtins.tryEval caught an error (a throw, an assert).
	EvalFailed
	// EvalMissing: the output has no such attribute.
	EvalMissing
)

// EvalEvent is one line the expression traced.
type EvalEvent struct {
	Index   int
	Status  EvalStatus
	DrvPath string
	OutPath string
	// Value is the item's value as JSON when it is not a derivation.
	Value json.RawMessage
}

// ParseEvalLine reads one line of nix's stderr (internal-json or plain) and
// returns the event it carries, if it is one of the expression's traces.
func ParseEvalLine(line []byte) (EvalEvent, bool) {
	i := bytes.Index(line, []byte(evalMarker+" "))
	if i < 0 {
		return EvalEvent{}, false
	}
	text := line[i+len(evalMarker)+1:]
	if rest, ok := bytes.CutPrefix(line, []byte("@nix ")); ok {
		// The event is inside a JSON string: decode the message first.
		var l struct {
			Msg string `json:"msg"`
		}
		if json.Unmarshal(rest, &l) != nil {
			return EvalEvent{}, false
		}
		msg := StripANSI(l.Msg)
		j := strings.Index(msg, evalMarker+" ")
		if j < 0 {
			return EvalEvent{}, false
		}
		text = []byte(msg[j+len(evalMarker)+1:])
	}
	return parseEvalEvent(text)
}

func parseEvalEvent(text []byte) (EvalEvent, bool) {
	word, rest, _ := bytes.Cut(text, []byte(" "))
	num, payload, _ := bytes.Cut(rest, []byte(" "))
	idx, err := strconv.Atoi(string(bytes.TrimSpace(num)))
	if err != nil || idx < 0 {
		return EvalEvent{}, false
	}
	ev := EvalEvent{Index: idx}
	switch string(word) {
	case "start":
		ev.Status = EvalStarted
	case "failed":
		ev.Status = EvalFailed
	case "missing":
		ev.Status = EvalMissing
	case "done":
		var v struct {
			D string          `json:"d"`
			O string          `json:"o"`
			J json.RawMessage `json:"j"`
		}
		if json.Unmarshal(payload, &v) != nil {
			return EvalEvent{}, false
		}
		ev.Status, ev.DrvPath, ev.OutPath, ev.Value = EvalDone, v.D, v.O, v.J
	default:
		return EvalEvent{}, false
	}
	return ev, true
}

// ParseEvalOutput reads the list a successful evaluation printed on stdout.
func ParseEvalOutput(stdout []byte) ([]EvalEvent, error) {
	var lines []string
	if err := json.Unmarshal(stdout, &lines); err != nil {
		return nil, fmt.Errorf("parsing nix eval output: %w", err)
	}
	out := make([]EvalEvent, 0, len(lines))
	for _, l := range lines {
		ev, ok := ParseEvalLine([]byte(l))
		if !ok {
			return nil, fmt.Errorf("parsing nix eval output: unexpected element %q", l)
		}
		out = append(out, ev)
	}
	return out, nil
}

// IsEvalTrace reports whether a message is one of the expression's traces
// (not an error, although nix logs traces at the error level).
func IsEvalTrace(msg string) bool {
	return strings.HasPrefix(strings.TrimSpace(msg), "trace: "+evalMarker+" ")
}
