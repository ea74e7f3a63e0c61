package nix

import (
	"encoding/json"
	"fmt"
)

// BuildResult is one entry of `nix build --json`.
type BuildResult struct {
	DrvPath string            `json:"drvPath"`
	Outputs map[string]string `json:"outputs"`
}

// Out is the default output's store path.
func (b BuildResult) Out() string { return b.Outputs["out"] }

// ParseBuildResults parses `nix build --json` output, one entry per installable, in order.
func ParseBuildResults(out []byte) ([]BuildResult, error) {
	var res []BuildResult
	if err := json.Unmarshal(out, &res); err != nil {
		return nil, fmt.Errorf("parsing nix build --json output: %w", err)
	}
	return res, nil
}
