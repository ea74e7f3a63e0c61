package ui

// Colours for Paint.
const (
	Red    = "31"
	Green  = "32"
	Yellow = "33"
	Bold   = "1"
	Dim    = "2"
)

// Paint colours s when colour is on.
func (o *IO) Paint(code, s string) string {
	if !o.Color {
		return s
	}
	return "\x1b[" + code + "m" + s + "\x1b[0m"
}

// OK and Fail are the marks tables use.
func (o *IO) OK() string   { return o.Paint(Green, "✓") }
func (o *IO) Fail() string { return o.Paint(Red, "✗") }

// Mark is OK when ok, else Fail.
func (o *IO) Mark(ok bool) string {
	if ok {
		return o.OK()
	}
	return o.Fail()
}
