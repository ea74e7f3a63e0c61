package cli

import (
	"github.com/spf13/cobra"

	"github.com/nixctl/nixctl/internal/app"
	"github.com/nixctl/nixctl/internal/doctor"
	"github.com/nixctl/nixctl/internal/exitcode"
	"github.com/nixctl/nixctl/internal/ui"
)

type doctorOptions struct{ deps *app.Deps }

func newDoctorCmd(deps *app.Deps) *cobra.Command {
	opts := &doctorOptions{deps: deps}
	return &cobra.Command{
		Use:   "doctor",
		Short: "Check that this machine and repository have what nixctl needs",
		Long: `Check nix and flakes, the repository and its inventory, nixos-rebuild and
home-manager, an age key for secrets, and SSH credentials. Each problem comes
with a hint. Exits 1 when nixctl cannot do its main job (no nix, no valid
inventory); missing optional parts are warnings.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return runDoctor(opts) },
	}
}

func runDoctor(opts *doctorOptions) error {
	deps := opts.deps
	fleet, fleetErr := deps.Fleet()
	findings := doctor.Run(deps.Context(), doctor.Env{
		Runner: deps.Runner(), Getenv: deps.Getenv, Home: deps.Home(), Fleet: fleet, FleetErr: fleetErr,
	})
	io := deps.IO
	if deps.Config.JSON {
		if err := io.PrintJSON(map[string]any{"ok": !doctor.Failed(findings), "findings": findings}); err != nil {
			return err
		}
	} else {
		var rows [][]string
		for _, f := range findings {
			rows = append(rows, []string{mark(io, f.Status), f.Name, f.Detail})
		}
		io.Table(nil, rows)
		for _, f := range findings {
			if f.Hint != "" && f.Status != doctor.OK {
				io.Logf("%s %s: %s", mark(io, f.Status), f.Name, f.Hint)
			}
		}
	}
	if doctor.Failed(findings) {
		return Silent(exitcode.Failure)
	}
	return nil
}

func mark(io *ui.IO, status string) string {
	switch status {
	case doctor.OK:
		return io.OK()
	case doctor.Warn:
		return io.Paint(ui.Yellow, "!")
	}
	return io.Fail()
}
