package scaffold

import "io/fs"

// PlanInit computes the repository `nixctl init` writes into dir: the
// template with n's values, refused whole if any file is in the way.
func PlanInit(dir string, tmpl fs.FS, n Names) (*Plan, error) {
	if err := n.Validate(); err != nil {
		return nil, err
	}
	files, err := Render(tmpl, n)
	if err != nil {
		return nil, err
	}
	if c := Conflicts(dir, files); len(c) > 0 {
		return nil, &ConflictError{Dir: dir, Paths: c}
	}
	return &Plan{Dir: dir, Create: files}, nil
}
