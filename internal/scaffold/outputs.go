package scaffold

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/nixctl/nixctl/internal/execx"
	"github.com/nixctl/nixctl/internal/nix"
)

// Outputs is what one evaluation of a flake says about the hosts and
// profiles it defines: the names of its nixosConfigurations and
// homeConfigurations, and the settings nixctl can guess an inventory from.
type Outputs struct {
	Hosts    map[string]HostFacts    `json:"hosts"`
	Profiles map[string]ProfileFacts `json:"profiles"`
	// Partial is set when the flake could be listed but not evaluated
	// further (an error tryEval cannot catch): the facts are then empty.
	Partial error `json:"-"`
}

// HostFacts are a NixOS configuration's settings; "" when unset or failing.
type HostFacts struct {
	FQDN     string `json:"fqdn"`
	HostName string `json:"hostName"`
}

// ProfileFacts are a Home Manager configuration's settings.
type ProfileFacts struct {
	Username string `json:"username"`
}

// outputsExpr evaluates, in one nix process, every host's and profile's
// facts. Each value goes through tryEval, so a configuration that throws
// (networking.fqdn without networking.domain does) loses that guess only.
// With namesOnly it only lists the outputs: the fallback when something
// tryEval cannot catch (abort, a type error) ends the full evaluation.
func outputsExpr(flakeDir string, namesOnly bool) string {
	host := `h: { fqdn = str (h.config.networking.fqdn or ""); hostName = str (h.config.networking.hostName or ""); }`
	profile := `p: { username = str (p.config.home.username or ""); }`
	if namesOnly {
		host, profile = `h: { }`, `p: { }`
	}
	// As nix eval DIR#… sees it: in a git work tree, the tracked files.
	ref, _ := nix.GetFlakeRef(flakeDir)
	return `let
  flake = builtins.getFlake ` + nix.StringLiteral(ref) + `;
  str = v: let r = builtins.tryEval (if builtins.isString v then builtins.deepSeq v v else ""); in if r.success then r.value else "";
  set = v: let r = builtins.tryEval (builtins.isAttrs v); in if r.success && r.value then v else { };
in {
  hosts = builtins.mapAttrs (_: ` + host + `) (set (flake.nixosConfigurations or { }));
  profiles = builtins.mapAttrs (_: ` + profile + `) (set (flake.homeConfigurations or { }));
}`
}

// OutputsArgv is the one nix eval that reads a local flake's outputs.
// builtins.getFlake needs --impure for a path that is not locked; the
// expression reads nothing else from outside the flake.
func OutputsArgv(flakeDir string, namesOnly bool) []string {
	return nix.Nix("eval", "--json", "--impure", "--expr", outputsExpr(flakeDir, namesOnly))
}

// EvalOutputs runs OutputsArgv once; if the full evaluation dies, once more
// for the names alone, so an inventory can still be written.
func EvalOutputs(ctx context.Context, r execx.Runner, flakeDir string) (*Outputs, error) {
	out, err := evalOutputs(ctx, r, flakeDir, false)
	if err == nil {
		return out, nil
	}
	names, err2 := evalOutputs(ctx, r, flakeDir, true)
	if err2 != nil {
		return nil, err
	}
	names.Partial = err
	return names, nil
}

func evalOutputs(ctx context.Context, r execx.Runner, flakeDir string, namesOnly bool) (*Outputs, error) {
	res, err := r.Run(ctx, execx.Cmd{Argv: OutputsArgv(flakeDir, namesOnly), Dir: flakeDir, ReadOnly: true})
	if err != nil {
		if res != nil {
			if errs := nix.ParseErrors(res.Stderr, flakeDir); len(errs) > 0 {
				return nil, &EvalError{Err: errs[0]}
			}
		}
		return nil, fmt.Errorf("evaluating the flake's outputs: %w", err)
	}
	out := &Outputs{}
	if err := json.Unmarshal(res.Stdout, out); err != nil {
		return nil, fmt.Errorf("evaluating the flake's outputs: nix printed %q: %w", execx.Tail(string(res.Stdout), 1), err)
	}
	if out.Hosts == nil {
		out.Hosts = map[string]HostFacts{}
	}
	if out.Profiles == nil {
		out.Profiles = map[string]ProfileFacts{}
	}
	return out, nil
}

// EvalError is a flake whose outputs cannot even be listed.
type EvalError struct{ Err nix.Error }

func (e *EvalError) Error() string { return "evaluating the flake's outputs: " + e.Err.String() }

// Hint points at the network for inputs, else at nixctl check.
func (e *EvalError) Hint() string {
	if nix.IsFetchError(e.Err.Message) {
		return "the flake's inputs could not be fetched: run 'nix flake lock' with network access first"
	}
	return "fix the error above ('nix flake show' shows it too), then run this again"
}
