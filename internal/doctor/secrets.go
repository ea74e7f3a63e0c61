package doctor

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/nixctl/nixctl/internal/secrets"
)

// secretsFinding says whether the age keys of this machine (found as sops
// finds them) are recipients of the fleet's sops files: a machine that
// edits or checks secrets must open them. ok is false when there is
// nothing to say (no sops file yet).
func secretsFinding(ctx context.Context, e Env) (Finding, bool) {
	repo := secrets.RepoOf(e.Fleet)
	sess, err := secrets.NewSession(repo, nil)
	if err != nil {
		return Finding{Name: "secrets", Status: Warn, Detail: err.Error(), Hint: "run 'nixctl secrets verify' for every problem"}, true
	}
	files := map[string][]string{} // path relative to the fleet → recipients
	_ = filepath.WalkDir(repo.Dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return nil
		}
		if enc, err := sess.Load(path, data); err == nil {
			var recipients []string
			for _, group := range enc.Keys() {
				for _, k := range group {
					if k.Type == "age" {
						recipients = append(recipients, k.Value)
					}
				}
			}
			files[repo.Rel(path)] = recipients
		}
		return nil
	})
	if len(files) == 0 {
		return Finding{}, false
	}
	keys := secrets.LoadKeyring(ctx, e.Keys)
	var mine []string
	for _, id := range keys.X25519() {
		mine = append(mine, id.Recipient().String())
	}
	if len(mine) == 0 {
		return Finding{Name: "secrets", Status: Warn, Detail: "no age key here opens the " + plural(len(files), "sops file"),
			Hint: "create a key with 'nixctl secrets init' and have a machine that can read the files add its recipient"}, true
	}
	var closed []string
	for path, recipients := range files {
		if !slices.ContainsFunc(mine, func(r string) bool { return slices.Contains(recipients, r) }) {
			closed = append(closed, path)
		}
	}
	slices.Sort(closed)
	who := strings.Join(mine, ", ")
	if len(closed) == 0 {
		return Finding{Name: "secrets", Status: OK, Detail: who + " opens all " + plural(len(files), "sops file")}, true
	}
	shown := closed
	if len(shown) > 5 {
		shown = append(shown[:5:5], "and "+strconv.Itoa(len(closed)-5)+" more")
	}
	return Finding{Name: "secrets", Status: Warn,
		Detail: who + " is not a recipient of " + strconv.Itoa(len(closed)) + " of " + plural(len(files), "sops file") + ": " + strings.Join(shown, ", "),
		Hint:   "if this machine should read them, add " + mine[0] + " to their rule in .sops.yaml and run 'nixctl secrets rekey' on a machine that can read them"}, true
}
