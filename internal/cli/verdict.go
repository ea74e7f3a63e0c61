package cli

import (
	"bytes"
	"encoding/json"

	"github.com/nixctl/nixctl/internal/fault"
	"github.com/nixctl/nixctl/internal/ui"
)

// printVerdictJSON prints report's fields with "ok" in front, as the
// secrets checks print their reports with --json, and fails with kind when
// the report is not ok (the report itself says why).
func printVerdictJSON(io *ui.IO, ok bool, report any, kind fault.Kind) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(report); err != nil {
		return err
	}
	fields := bytes.TrimSpace(buf.Bytes())
	doc := []byte(`{"ok":false`)
	if ok {
		doc = []byte(`{"ok":true`)
	}
	if len(fields) > 2 && fields[0] == '{' {
		doc = append(append(doc, ','), fields[1:]...)
	} else {
		doc = append(doc, '}')
	}
	if err := io.PrintJSON(json.RawMessage(doc)); err != nil {
		return err
	}
	if !ok {
		return Silent(kind)
	}
	return nil
}
