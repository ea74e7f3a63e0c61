package ci

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/nixctl/nixctl/internal/fault"
)

// The JSON shows the exit codes the command line chooses for each kind: the
// run's, and each failed stage's; a stage that passed shows none.
func TestWriteJSONShowsTheExitCodesItIsGiven(t *testing.T) {
	t.Parallel()
	rep := &Report{Stages: []Stage{
		{Name: StageInventory, Cases: []Case{{Name: "nixctl.yaml", Status: Passed}}},
		{Name: StageSecrets, Cases: []Case{{Name: "a.yaml", Status: Failed}}},
	}}
	rep.Stages[0].finish(fault.Inventory, 0)
	rep.Stages[1].finish(fault.Secrets, 0)
	rep.settle()
	codes := map[fault.Kind]int{fault.OK: 0, fault.Secrets: 70}
	var buf bytes.Buffer
	if err := rep.WriteJSON(&buf, func(k fault.Kind) int { return codes[k] }); err != nil {
		t.Fatal(err)
	}
	var got struct {
		OK       bool `json:"ok"`
		ExitCode *int `json:"exitCode"`
		Stages   []struct {
			Name     string `json:"name"`
			ExitCode *int   `json:"exitCode"`
		} `json:"stages"`
	}
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if got.OK || got.ExitCode == nil || *got.ExitCode != 70 || len(got.Stages) != 2 ||
		got.Stages[0].ExitCode != nil || got.Stages[1].ExitCode == nil || *got.Stages[1].ExitCode != 70 {
		t.Errorf("JSON report:\n%s", buf.String())
	}
}
