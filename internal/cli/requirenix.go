package cli

import (
	"github.com/nixctl/nixctl/internal/app"
	"github.com/nixctl/nixctl/internal/fault"
)

// requireNix stops a command that needs nix where there is none; hint says
// what to do about it ("" for the usual: install it, or run nixctl doctor).
func requireNix(deps *app.Deps, hint string) error {
	if _, err := deps.Runner().LookPath("nix"); err != nil {
		if hint == "" {
			hint = "install Nix (https://nixos.org/download) or run 'nixctl doctor'"
		}
		return fault.Newf(fault.Failure, hint, "nix is not installed or not on PATH")
	}
	return nil
}
