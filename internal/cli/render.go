package cli

import (
	"bytes"
	"encoding/json"

	"github.com/nixctl/nixctl/internal/app"
	"github.com/nixctl/nixctl/internal/fault"
	"github.com/nixctl/nixctl/internal/ui"
)

// A command ends by building its result and handing it to render, the one
// place that looks at --json to decide how a result is printed. A result
// read by a person and the document read by a machine are then the same
// data, and fail the same way.

// printable is what a command hands to render: the value --json prints (its
// exported, tagged fields), and how it reads as text. Results whose
// document was once a map list their fields in the map's (sorted) key
// order, so the document stays the same byte for byte.
type printable interface {
	// text prints the result for a person: the result on stdout, notes
	// about it on stderr.
	text(io *ui.IO)
}

// shaped is a result whose --json document is not the value itself: a
// domain value it wraps, or a document whose shape predates the type.
type shaped interface {
	json() any
}

// judged is a result that can fail (a check, a deploy): verdict is nil, or
// the failure with its kind and hint.
type judged interface {
	verdict() error
}

// render prints r as the --json document or as text, then returns its
// verdict: with --json the document already says what failed, so the
// failure exits silently with its kind; as text it is the error Main
// prints, with its hint.
func render(deps *app.Deps, r printable) error {
	var failed error
	if j, ok := r.(judged); ok {
		failed = j.verdict()
	}
	if !deps.Config.JSON {
		r.text(deps.IO)
		return failed
	}
	var doc any = r
	if s, ok := r.(shaped); ok {
		doc = s.json()
	}
	if err := deps.IO.PrintJSON(doc); err != nil {
		return err
	}
	if failed != nil {
		return Silent(fault.KindOf(failed))
	}
	return nil
}

// textAsItComes prints each item of a result as text the moment it is
// known (a rekey's line per file, among the lines a dry run prints); with
// --json it prints nothing, and the document render prints at the end
// holds the items.
func textAsItComes[T any](deps *app.Deps, each func(io *ui.IO, item T)) func(T) {
	if deps.Config.JSON {
		return func(T) {}
	}
	return func(item T) { each(deps.IO, item) }
}

// didOrWould is a verb of a result's text: what was done, or in a dry run
// what would be.
func didOrWould(dryRun bool, did, would string) string {
	if dryRun {
		return would
	}
	return did
}

// okFirst is the document of a report that passes or fails as a whole:
// "ok", then the report's own fields.
type okFirst struct {
	ok     bool
	report any
}

func (d okFirst) MarshalJSON() ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(d.report); err != nil {
		return nil, err
	}
	fields := bytes.TrimSpace(buf.Bytes())
	doc := []byte(`{"ok":false`)
	if d.ok {
		doc = []byte(`{"ok":true`)
	}
	if len(fields) > 2 && fields[0] == '{' {
		return append(append(doc, ','), fields[1:]...), nil
	}
	return append(doc, '}'), nil
}
