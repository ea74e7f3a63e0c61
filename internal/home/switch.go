package home

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/nixctl/nixctl/internal/execx"
	"github.com/nixctl/nixctl/internal/fault"
	"github.com/nixctl/nixctl/internal/inventory"
	"github.com/nixctl/nixctl/internal/nix"
	"github.com/nixctl/nixctl/internal/parallel"
)

// Target is one planned switch: a profile, its new generation, and what
// was found before switching.
type Target struct {
	Profile inventory.Profile
	// Host is the remote host; nil means this machine.
	Host       *inventory.Host
	Generation string
	BackupExt  string
	Clobbers   []Clobber
	Diff       *Diff
	// err is a problem found while preparing (wrong user, no profile path).
	err error
}

// User is the account the profile is activated for.
func (t *Target) User() string {
	if t.Profile.User == "" && t.Host != nil {
		return t.Host.User
	}
	return t.Profile.User
}

// Problem is what Prepare found that stops this switch (files in the way,
// another user's profile), or nil.
func (t *Target) Problem() error {
	if t.err != nil {
		return t.err
	}
	if len(t.Clobbers) > 0 {
		return ClobberError(t.Profile.Name, t.Clobbers, t.BackupExt)
	}
	return nil
}

// Where is "here" or the host's name.
func (t *Target) Where() string {
	if t.Host == nil {
		return "here"
	}
	return t.Host.Name
}

// SwitchOptions are the knobs of a switch.
type SwitchOptions struct {
	// BackupExt overrides every profile's backupExtension (home-manager -b)
	// when OverrideBackupExt is set; "" then means no backups.
	BackupExt         string
	OverrideBackupExt bool
	// Diff computes what each switch changes before it happens.
	Diff bool
	// Extra arguments go to home-manager (local profiles).
	Extra []string
	// DryRun only names the outcome: the runner and SSH print the commands.
	DryRun bool
}

// Prepare builds every profile's generation in one nix build, then looks for
// files home-manager would refuse to overwrite and, with Diff, compares each
// generation with the current one. Nothing is switched yet.
func (e *Env) Prepare(ctx context.Context, profiles []inventory.Profile, o SwitchOptions) ([]*Target, error) {
	for _, p := range profiles {
		e.events().Stage(p.Name, "building")
	}
	built, err := Build(ctx, e.Runner, e.Fleet, profiles, nil)
	if built == nil {
		return nil, err
	}
	targets := make([]*Target, len(profiles))
	for i, p := range profiles {
		t := &Target{Profile: p, Generation: built[i].Path, BackupExt: p.BackupExtension}
		if o.OverrideBackupExt {
			t.BackupExt = o.BackupExt
		}
		targets[i] = t
		// A profile that did not build is not switched; the others are.
		if built[i].err != nil || t.Generation == "" {
			t.err = cmp.Or(built[i].err, err)
			continue
		}
		if p.Host != "" {
			h, ok := e.Fleet.Host(p.Host)
			if !ok {
				t.err = fault.Newf(fault.Inventory, "fix profiles[].host in nixctl.yaml", "profile %s: no host %q", p.Name, p.Host)
				continue
			}
			t.Host = h
			if o.Diff {
				if t.Diff, err = e.remoteDiff(ctx, t); err != nil {
					return nil, err
				}
			}
			continue
		}
		profilePath, err := e.LocalProfile(p)
		if err != nil {
			t.err = err
			continue
		}
		e.events().Stage(p.Name, "checking files in "+e.Home)
		if t.Clobbers, err = FindClobbers(t.Generation, e.Home, t.BackupExt); err != nil {
			return nil, fmt.Errorf("profile %s: looking for files in the way: %w", p.Name, err)
		}
		if o.Diff {
			cur, err := Current(profilePath)
			if err != nil {
				return nil, err
			}
			if t.Diff, err = DiffGenerations(ctx, e.Runner, p.Name, cur, t.Generation); err != nil {
				return nil, err
			}
		}
	}
	return targets, nil
}

// Result is what happened to one profile.
type Result struct {
	Profile    string        `json:"profile"`
	Host       string        `json:"host,omitempty"`
	User       string        `json:"user,omitempty"`
	OK         bool          `json:"ok"`
	Generation string        `json:"generation,omitempty"`
	Error      string        `json:"error,omitempty"`
	Duration   time.Duration `json:"durationNs"`
	// Diff is what the switch changed, when it was asked for (--diff).
	Diff *Diff `json:"diff,omitempty"`
	// Err is the error itself, for its kind and hint.
	Err error `json:"-"`
}

// SwitchAll switches targets: profiles of this machine one after the other
// (they share one home-manager), remote ones in parallel, at most limit
// at once. Results come back in the order of targets.
func (e *Env) SwitchAll(ctx context.Context, targets []*Target, o SwitchOptions, limit int) []Result {
	e.events() // set up before the goroutines share it
	results := make([]Result, len(targets))
	var localMu sync.Mutex
	parallel.Each(len(targets), limit, func(i int) {
		t := targets[i]
		if t.Host == nil {
			localMu.Lock()
			defer localMu.Unlock()
		}
		out := e.events().Writer(t.Profile.Name)
		start := time.Now()
		err := e.Switch(ctx, t, o, out)
		if f, ok := out.(interface{ Flush() error }); ok {
			_ = f.Flush()
		}
		r := Result{Profile: t.Profile.Name, User: t.User(), OK: err == nil, Generation: t.Generation, Duration: time.Since(start), Diff: t.Diff, Err: err}
		if t.Host != nil {
			r.Host = t.Host.Name
		}
		if err != nil {
			r.Error = err.Error()
			e.events().Done(t.Profile.Name, "failed", true)
		} else if o.DryRun {
			e.events().Done(t.Profile.Name, "planned (dry run)", false)
		} else {
			e.events().Done(t.Profile.Name, "switched", false)
		}
		results[i] = r
	})
	return results
}

// Switch activates one prepared target; child output goes to out.
func (e *Env) Switch(ctx context.Context, t *Target, o SwitchOptions, out io.Writer) error {
	if err := t.Problem(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("not started: %w", err)
	}
	if t.Host != nil {
		return e.switchRemote(ctx, t, out)
	}
	return e.switchLocal(ctx, t, o, out)
}

func (e *Env) switchLocal(ctx context.Context, t *Target, o SwitchOptions, out io.Writer) error {
	hm := nix.HomeManagerOptions{Flake: e.Fleet.Flake, Attr: t.Profile.Attr, BackupExt: t.BackupExt, Extra: o.Extra}
	argv := nix.HomeManagerSwitch(hm)
	if _, err := e.Runner.LookPath("home-manager"); err != nil {
		argv = nix.HomeManagerViaNix(hm)
		fmt.Fprintf(out, "home-manager is not on PATH: running the one pinned in the flake's lock file (nix run --inputs-from %s home-manager)\n", e.Fleet.Flake)
	}
	e.events().Stage(t.Profile.Name, "switching")
	res, err := e.Runner.Run(ctx, execx.Cmd{Argv: argv, Stdout: out, Stderr: out})
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return err
	}
	var output string
	if res != nil {
		output = nix.StripANSI(string(res.Stdout) + "\n" + string(res.Stderr))
	}
	if files := ParseClobbered(output); len(files) > 0 {
		return ClobberError(t.Profile.Name, files, t.BackupExt)
	}
	hint := "see home-manager's output above; add -v to see the command"
	switch {
	case argv[0] == "nix" && strings.Contains(output, "cannot find flake 'flake:home-manager'"):
		hint = "the flake has no home-manager input for nix run --inputs-from: add inputs.home-manager to flake.nix, or install home-manager"
	case argv[0] == "nix" && strings.Contains(output, "flake-registry"):
		hint = "nix could not fetch its flake registry (offline?): install home-manager, or point NIX_CONFIG='flake-registry = FILE' at a local registry"
	}
	var ee *execx.ExitError
	if errors.As(err, &ee) && ee.ExitCode == -1 {
		hint = "is home-manager installed? nixctl doctor checks"
	}
	return fault.Newf(fault.Failure, hint, "profile %s: home-manager switch failed: %s", t.Profile.Name, strings.TrimPrefix(err.Error(), "home-manager switch "))
}

func (e *Env) switchRemote(ctx context.Context, t *Target, out io.Writer) error {
	if e.Remote == nil {
		return fault.Newf(fault.Failure, "", "profile %s: remote profiles are not available in this build", t.Profile.Name)
	}
	e.events().Stage(t.Profile.Name, "preflight on "+t.Host.Name)
	sess, err := e.Remote.Open(ctx, *t.Host, t.User())
	if err != nil {
		return fmt.Errorf("profile %s: %w", t.Profile.Name, err)
	}
	defer sess.Close()
	store, opts, err := e.Remote.NixStore(*t.Host)
	if err != nil {
		return err
	}
	e.events().Stage(t.Profile.Name, "copying to "+t.Host.Name)
	argv, env := nix.CopyToSSH(nix.CopyOptions{Store: store, SSHOpts: opts, Paths: []string{t.Generation}})
	if _, err := e.Runner.Run(ctx, execx.Cmd{Argv: argv, Env: env, Stdout: out, Stderr: out}); err != nil {
		if ctx.Err() != nil {
			return err
		}
		return fault.Newf(fault.Failure, "check that "+t.Host.User+" may add paths to the store of "+t.Host.Name+" (nix.settings.trusted-users) and that ssh works: nixctl doctor",
			"profile %s: copying to %s failed: %v", t.Profile.Name, t.Host.Name, err)
	}
	e.events().Stage(t.Profile.Name, "checking files in the home of "+t.User()+" on "+t.Host.Name)
	files, err := sess.Clobbers(ctx, t.Generation, t.BackupExt)
	if err != nil {
		return fmt.Errorf("profile %s: %w", t.Profile.Name, err)
	}
	if len(files) > 0 {
		return ClobberError(t.Profile.Name, files, t.BackupExt)
	}
	e.events().Stage(t.Profile.Name, "activating on "+t.Host.Name+" as "+t.User())
	var output bytes.Buffer
	if err := sess.Activate(ctx, t.Generation, t.BackupExt, io.MultiWriter(out, &output)); err != nil {
		if files := ParseClobbered(nix.StripANSI(output.String())); len(files) > 0 {
			return ClobberError(t.Profile.Name, files, t.BackupExt)
		}
		return fmt.Errorf("profile %s: %w", t.Profile.Name, err)
	}
	return nil
}
