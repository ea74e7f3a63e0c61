package home

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/nixctl/nixctl/internal/fault"
)

// Clobber is a file Home Manager would refuse to overwrite.
type Clobber struct {
	// Path is the file in the home directory that is in the way.
	Path string `json:"path"`
	// Backup, when set, is an existing backup that -b EXT would overwrite:
	// home-manager refuses that too.
	Backup string `json:"backup,omitempty"`
}

func (c Clobber) String() string {
	if c.Backup != "" {
		return fmt.Sprintf("%s (its backup %s exists already)", c.Path, c.Backup)
	}
	return c.Path
}

// FindClobbers compares a generation's home-files with the home directory the
// way home-manager's checkLinkTargets does, before anything is switched: a
// file is in the way when it exists, is not a link into the store that Home
// Manager made, and differs from the new file. With backupExt it would be
// moved to FILE.EXT, unless that backup exists already or it is a symlink.
func FindClobbers(generation, home, backupExt string) ([]Clobber, error) {
	root, err := filepath.EvalSymlinks(filepath.Join(generation, "home-files"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil // a generation that places no files
	}
	if err != nil {
		return nil, err
	}
	var out []Clobber
	err = filepath.WalkDir(root, func(src string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(root, src)
		target := filepath.Join(home, rel)
		st, err := os.Lstat(target)
		if err != nil {
			return nil // nothing there (or unreadable: home-manager will say)
		}
		if st.Mode()&fs.ModeSymlink != 0 {
			if dest, err := os.Readlink(target); err == nil && managedLink(dest) {
				return nil
			}
		}
		if sameContent(src, target) {
			return nil
		}
		if st.Mode()&fs.ModeSymlink == 0 && backupExt != "" {
			backup := target + "." + backupExt
			if _, err := os.Lstat(backup); err == nil {
				out = append(out, Clobber{Path: target, Backup: backup})
			}
			return nil
		}
		out = append(out, Clobber{Path: target})
		return nil
	})
	return out, err
}

// managedLink reports a link into a Home Manager generation's files.
func managedLink(dest string) bool {
	return strings.HasPrefix(dest, "/nix/store/") && strings.Contains(dest, "-home-manager-files/")
}

func sameContent(a, b string) bool {
	x, err := os.ReadFile(a)
	if err != nil {
		return false
	}
	y, err := os.ReadFile(b)
	return err == nil && bytes.Equal(x, y)
}

// home-manager 25.05's messages, and the older "is in the way of".
var clobberRe = regexp.MustCompile(`Existing file '([^']+)' (?:would be clobbered(?: by backing up '([^']+)')?|is in the way of '[^']+'$)`)

// ParseClobbered finds the files a failed home-manager run refused to
// overwrite, in the order it named them.
func ParseClobbered(output string) []Clobber {
	var out []Clobber
	seen := map[string]bool{}
	for _, line := range strings.Split(output, "\n") {
		m := clobberRe.FindStringSubmatch(strings.TrimSpace(line))
		if m == nil {
			continue
		}
		c := Clobber{Path: m[1]}
		if m[2] != "" { // "Existing file BACKUP would be clobbered by backing up PATH"
			c = Clobber{Path: m[2], Backup: m[1]}
		}
		if !seen[c.Path] {
			seen[c.Path] = true
			out = append(out, c)
		}
	}
	return out
}

// ClobberError is the one error that names the files in the way and the fix.
func ClobberError(profile string, files []Clobber, backupExt string) error {
	names := make([]string, len(files))
	var backups, plain []string
	for i, f := range files {
		names[i] = f.String()
		if f.Backup != "" {
			backups = append(backups, f.Backup)
		} else {
			plain = append(plain, f.Path)
		}
	}
	var hints []string
	switch {
	case len(plain) > 0 && backupExt == "":
		hints = append(hints, "move or remove them, or switch with --backup-ext bak to have home-manager move them aside")
	case len(plain) > 0:
		hints = append(hints, "move or remove "+strings.Join(plain, " ")+" (home-manager backs up only regular files)")
	}
	if len(backups) > 0 {
		hints = append(hints, "remove the old backups "+strings.Join(backups, " ")+", or pick another --backup-ext than "+backupExt)
	}
	noun := "files"
	if len(files) == 1 {
		noun = "file"
	}
	return fault.Newf(fault.Failure, strings.Join(hints, "; "), "profile %s: home-manager would clobber %d %s: %s",
		profile, len(files), noun, strings.Join(names, ", "))
}
