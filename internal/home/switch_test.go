package home

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/nixctl/nixctl/internal/execx"
	"github.com/nixctl/nixctl/internal/fault"
	"github.com/nixctl/nixctl/internal/inventory"
)

// fakeRemote is a host whose activation answers like home-manager's.
type fakeRemote struct {
	clobbers   []Clobber
	activation string // output of activate
	fail       bool
	activated  []string
}

func (f *fakeRemote) NixStore(h inventory.Host) (string, []string, error) {
	return "ssh://" + h.User + "@" + h.Address, []string{"-p", "2222"}, nil
}
func (f *fakeRemote) Open(context.Context, inventory.Host, string) (Session, error) {
	return f, nil
}
func (f *fakeRemote) Clobbers(context.Context, string, string) ([]Clobber, error) {
	return f.clobbers, nil
}
func (f *fakeRemote) Activate(_ context.Context, gen, ext string, out io.Writer) error {
	f.activated = append(f.activated, gen+" -b "+ext)
	fmt.Fprint(out, f.activation)
	if f.fail {
		return errors.New("exit 1")
	}
	return nil
}
func (f *fakeRemote) Generations(context.Context) (string, []Generation, error) { return "", nil, nil }
func (f *fakeRemote) Rollback(context.Context, Generation, Generation, io.Writer) error {
	return nil
}
func (f *fakeRemote) Close() error { return nil }

func remoteTarget() (*Env, *Target, *execx.Recorder) {
	host := &inventory.Host{Name: "nixos-mini", Address: "192.0.2.20", User: "root", Port: 2222}
	rec := &execx.Recorder{}
	rec.Register([]string{"nix", "copy"}, "", 0)
	env := &Env{Runner: rec, Fleet: &inventory.Fleet{Flake: "/repo", Hosts: []inventory.Host{*host}}, Err: io.Discard}
	t := &Target{Profile: inventory.Profile{Name: "server", User: "ops", Host: "nixos-mini"}, Host: host,
		Generation: "/nix/store/aaa-home-manager-generation", BackupExt: "hm-bak"}
	return env, t, rec
}

func TestSwitchRemoteCopiesThenActivatesWithTheBackupExtension(t *testing.T) {
	t.Parallel()
	env, target, rec := remoteTarget()
	f := &fakeRemote{}
	env.Remote = f
	if err := env.Switch(context.Background(), target, SwitchOptions{}, io.Discard); err != nil {
		t.Fatal(err)
	}
	rec.Verify(t)
	if got := rec.Argvs(); len(got) != 1 || got[0] != "nix copy --extra-experimental-features nix-command flakes --to ssh://root@192.0.2.20 /nix/store/aaa-home-manager-generation" {
		t.Errorf("copy: %q", got)
	}
	if env := rec.Calls()[0].Cmd.Env; len(env) != 1 || env[0] != "NIX_SSHOPTS=-p 2222" {
		t.Errorf("copy env: %q", env)
	}
	if len(f.activated) != 1 || f.activated[0] != "/nix/store/aaa-home-manager-generation -b hm-bak" {
		t.Errorf("activated: %q", f.activated)
	}
}

func TestSwitchRemoteClobbers(t *testing.T) {
	t.Parallel()
	// Found before activating.
	env, target, _ := remoteTarget()
	f := &fakeRemote{clobbers: []Clobber{{Path: "/home/ops/.zshrc"}}}
	env.Remote = f
	err := env.Switch(context.Background(), target, SwitchOptions{}, io.Discard)
	if err == nil || err.Error() != "profile server: home-manager would clobber 1 file: /home/ops/.zshrc" || len(f.activated) != 0 {
		t.Errorf("pre-check: %v, activated %q", err, f.activated)
	}
	// Refused by the activation itself: its output becomes the error.
	env, target, _ = remoteTarget()
	f = &fakeRemote{fail: true, activation: "Activating checkLinkTargets\n\x1b[1;31mExisting file '/home/ops/.zshrc.hm-bak' would be clobbered by backing up '/home/ops/.zshrc'\x1b[0m\n"}
	env.Remote = f
	err = env.Switch(context.Background(), target, SwitchOptions{}, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "would clobber 1 file: /home/ops/.zshrc (its backup /home/ops/.zshrc.hm-bak exists already)") {
		t.Errorf("activation output: %v", err)
	}
	if h := fault.HintOf(err); !strings.Contains(h, "remove the old backups /home/ops/.zshrc.hm-bak") {
		t.Errorf("hint: %q", h)
	}
}
