package nix

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// EvalItem is one value of a flake output that an evaluation of many
// computes: Output.${Attr} followed by Path (for a host,
// nixosConfigurations.${attr}.config.system.build.toplevel).
type EvalItem struct {
	// Output names the flake output; the expression reads it only when it
	// is applied to all outputs (EvalManyOutputs, EvalManyFlake).
	Output string
	Attr   string
	Path   []string
	// Apply, when set, is a Nix function of the flake's root directory (a
	// string, null when the expression sees only one output) and of the
	// item's value; what it returns, as JSON, is the item's value.
	Apply string
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
  one = i: set: name: path: f: let
    s = toString i;
    r = if !(set ? ${name}) then "missing ${s}" else let
      e = builtins.tryEval (let v = builtins.foldl' (a: n: a.${n}) set.${name} path; in
        builtins.toJSON (if f != null then { j = f v; } else if builtins.isAttrs v && v ? drvPath then { d = v.drvPath; o = v.outPath; } else { j = v; }));
    in if e.success then "done ${s} ${e.value}" else "failed ${s}";
  in t "${m} start ${s}" (t "${m} ${r}" "${m} ${r}");
`

// evalMarker starts every line the expression traces.
const evalMarker = "nixctl-eval"

// EvalManyExpr is the --apply function that evaluates items of one output.
// Index i of the results is items[i].
func EvalManyExpr(items []EvalItem) string { return evalManyExpr(items, oneOutput, "null") }

// exprScope is what the expression is applied to.
type exprScope int

const (
	// oneOutput: the output the items are in (nix eval flake#output).
	oneOutput exprScope = iota
	// allOutputs: the flake's outputs (nix eval 'flake#""'), or the
	// default package set nix found first under that name.
	allOutputs
	// wholeFlake: builtins.getFlake's value, outputs and outPath.
	wholeFlake
)

// root is the expression of the flake's root directory (null when the
// expression is not given the flake, only its outputs).
func evalManyExpr(items []EvalItem, scope exprScope, root string) string {
	var b strings.Builder
	b.Grow(len(evalManyPrelude) + 48*len(items))
	b.WriteString(evalManyPrelude)
	b.WriteString("  root = " + root + ";\n")
	// Items mostly share one path (a toplevel, an activation package), one
	// function and one output: name each distinct one once.
	paths, applies, outputs := names{prefix: "p"}, names{prefix: "f"}, names{prefix: "o"}
	for _, it := range items {
		if k, fresh := paths.of(strings.Join(it.Path, "\x00")); fresh {
			fmt.Fprintf(&b, "  %s = [", k)
			for _, p := range it.Path {
				b.WriteByte(' ')
				b.WriteString(StringLiteral(p))
			}
			b.WriteString(" ];\n")
		}
		if it.Apply != "" {
			if k, fresh := applies.of(it.Apply); fresh {
				fmt.Fprintf(&b, "  %s = (%s) root;\n", k, it.Apply)
			}
		}
		if scope != oneOutput {
			// A missing output makes its items missing, not an error.
			if k, fresh := outputs.of(it.Output); fresh {
				fmt.Fprintf(&b, "  %s = outs.%s or { };\n", k, Attr(it.Output))
			}
		}
	}
	b.WriteString("in ")
	if scope == allOutputs {
		// 'flake#""' names the outputs unless the flake has
		// packages.<system> or legacyPackages.<system>, which nix tries
		// first: then say the items are elsewhere, before evaluating any.
		b.WriteString("if !(")
		for i, out := range outputs.keys {
			if i > 0 {
				b.WriteString(" || ")
			}
			fmt.Fprintf(&b, "outs ? %s", Attr(out))
		}
		b.WriteString(`) then [ (t "${m} elsewhere 0" "${m} elsewhere 0") ] else `)
	}
	// Force every output before the first item starts, as nix forces the
	// output --apply is given, each announced by a trace: an output that
	// fails ends the process before any item, and the last trace says
	// which output it was.
	for i, k := range outputs.order {
		fmt.Fprintf(&b, "builtins.seq (t \"${m} output %d\" %s) (", i, k)
	}
	b.WriteString("[\n")
	for i, it := range items {
		set := "outs"
		if scope != oneOutput {
			set, _ = outputs.of(it.Output)
		}
		f := "null"
		if it.Apply != "" {
			f, _ = applies.of(it.Apply)
		}
		p, _ := paths.of(strings.Join(it.Path, "\x00"))
		fmt.Fprintf(&b, "  (one %d %s %s %s %s)\n", i, set, StringLiteral(it.Attr), p, f)
	}
	b.WriteString("]")
	b.WriteString(strings.Repeat(")", len(outputs.order)))
	b.WriteString("\n")
	return b.String()
}

// names gives each distinct key a short Nix name (p0, p1…).
type names struct {
	prefix string
	byKey  map[string]string
	order  []string // the names, in order
	keys   []string // the keys, in the same order
}

func (n *names) of(key string) (name string, fresh bool) {
	if name, ok := n.byKey[key]; ok {
		return name, false
	}
	if n.byKey == nil {
		n.byKey = map[string]string{}
	}
	name = n.prefix + strconv.Itoa(len(n.order))
	n.byKey[key] = name
	n.order = append(n.order, name)
	n.keys = append(n.keys, key)
	return name, true
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

// EvalManyOutputs is the argv of one pure nix process that evaluates items
// of several outputs (hosts and profiles together): --apply on 'flake#""',
// the outputs themselves. Nix tries the default package prefixes first, so
// a flake with packages.<system> gives the expression that set instead; the
// expression then reports EvalElsewhere and evaluates nothing.
func EvalManyOutputs(flake string, items []EvalItem, extra ...string) []string {
	argv := Nix("eval", "--json", "--apply", evalManyExpr(items, allOutputs, "null"), Installable(flake, `""`), "--log-format", "internal-json")
	return append(argv, extra...)
}

// EvalManyFlake is the argv of one nix process that evaluates items of any
// outputs of the flake, and gives their Apply functions the flake's root.
// builtins.getFlake needs --impure for a local flake that is not locked by
// a hash, and a lock file that is up to date (it never writes one).
func EvalManyFlake(flake string, items []EvalItem, extra ...string) []string {
	get, root := getFlake(flake)
	expr := "(" + evalManyExpr(items, wholeFlake, root("outs")) + ") (" + get + ")"
	argv := Nix("eval", "--json", "--impure", "--expr", expr, "--log-format", "internal-json")
	return append(argv, extra...)
}

// EvalOneFlake is the argv that evaluates one item of EvalManyFlake alone,
// without tryEval, so its error is nix's own, located. It prints JSON: the
// Apply function's result, or the value, or the drvPath of a derivation.
func EvalOneFlake(flake string, it EvalItem, extra ...string) []string {
	get, root := getFlake(flake)
	path := append([]string{it.Output, it.Attr}, it.Path...)
	sel := "flake"
	for _, p := range path {
		sel += "." + StringLiteral(p)
	}
	val := "if builtins.isAttrs v && v ? drvPath then v.drvPath else v"
	if it.Apply != "" {
		val = "(" + it.Apply + ") " + root("flake") + " v"
	}
	expr := "let flake = " + get + "; v = " + sel + "; in " + val
	argv := Nix("eval", "--json", "--impure", "--expr", expr, "--log-format", "internal-json", "--show-trace")
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
	// EvalElsewhere: EvalManyOutputs was given a package set, not the
	// outputs; no item was evaluated.
	EvalElsewhere
	// EvalOutput: the expression is forcing an output (EvalManyOutputs,
	// EvalManyFlake); Index numbers the outputs in the order the items
	// first name them.
	EvalOutput
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
	case "elsewhere":
		ev.Status = EvalElsewhere
	case "output":
		ev.Status = EvalOutput
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
