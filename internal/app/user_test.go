package app

import (
	"errors"
	"os/user"
	"testing"

	"github.com/nixctl/nixctl/internal/testutil"
)

func TestUserNameFollowsTheProcessAccount(t *testing.T) {
	t.Parallel()
	root, err := user.Lookup("root")
	if err != nil {
		if testutil.InCI() {
			t.Fatalf("CI's machine has root in its password database: %v", err)
		}
		t.Skipf("no root in the password database (CI=true makes this a failure): %v", err)
	}
	gabriel := &user.User{Username: "gabriel", Uid: "4242"}
	for _, c := range []struct {
		name    string
		env     string
		account *user.User
		err     error
		want    string
	}{
		{"USER unset", "", gabriel, nil, "gabriel"},
		{"USER agrees", "gabriel", gabriel, nil, "gabriel"},
		{"USER left from another account (sudo -E)", "root", gabriel, nil, "gabriel"},
		{"USER names nobody known", "ghost", gabriel, nil, "gabriel"},
		{"USER is another name of the same uid", "root", &user.User{Username: "toor", Uid: root.Uid}, nil, "root"},
		{"no password entry for the uid", "gabriel", nil, errors.New("unknown userid 4242"), "gabriel"},
		{"nothing at all", "", nil, errors.New("unknown userid 4242"), ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			d := New(Parts{
				Env:     Env{User: c.env},
				Account: func() (*user.User, error) { return c.account, c.err },
			})
			if got := d.UserName(); got != c.want {
				t.Errorf("UserName() = %q, want %q", got, c.want)
			}
		})
	}
}
