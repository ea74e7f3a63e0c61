package fault

// Hinter is implemented by errors that know what the user should do next
// without being an *Error (a missing key, say, names the key to add).
type Hinter interface{ Hint() string }

// HintOf returns the first hint found in err's tree, depth first in the
// order errors.As visits it: through %w wrapping, several %w in one
// fmt.Errorf, and errors.Join. An *Error's Hint is a field, not a method
// (the two cannot share a name), so it is looked at before Hinter.
func HintOf(err error) string {
	if err == nil {
		return ""
	}
	if e, ok := err.(*Error); ok && e.Hint != "" {
		return e.Hint
	}
	if h, ok := err.(Hinter); ok && h.Hint() != "" {
		return h.Hint()
	}
	switch u := err.(type) {
	case interface{ Unwrap() error }:
		return HintOf(u.Unwrap())
	case interface{ Unwrap() []error }:
		for _, e := range u.Unwrap() {
			if h := HintOf(e); h != "" {
				return h
			}
		}
	}
	return ""
}
