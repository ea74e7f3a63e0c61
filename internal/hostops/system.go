package hostops

import (
	"context"
	"fmt"
	"strconv"
	"strings"
)

// Generation reads the system profile's generation number.
func (h *Host) Generation(ctx context.Context) (int, error) {
	o, err := h.run(ctx, scriptGeneration, false, nil, nil)
	if err != nil {
		return 0, err
	}
	return ParseGenerationLink(strings.TrimSpace(o.stdout)), nil
}

// SwitchGeneration is nixos-rebuild switch --rollback for a chosen
// generation.
func (h *Host) SwitchGeneration(ctx context.Context, n int) error {
	if n <= 0 {
		return fmt.Errorf("generation %d: want a positive number", n)
	}
	_, err := h.run(ctx, scriptSwitchGeneration, true, nil, nil, strconv.Itoa(n))
	return err
}

// Reactivate activates the system profile again.
func (h *Host) Reactivate(ctx context.Context) error {
	_, err := h.run(ctx, scriptReactivate, true, nil, nil)
	return err
}

// SwitchGenerationCommand and ReactivateCommand show those operations in a
// printed plan (see DisplayCommand).
func SwitchGenerationCommand(sudo bool, n int) string {
	return DisplayCommand(scriptSwitchGeneration, sudo, "/", strconv.Itoa(n))
}

// ReactivateCommand: see SwitchGenerationCommand.
func ReactivateCommand(sudo bool) string {
	return DisplayCommand(scriptReactivate, sudo, "/")
}

// ParseGenerationLink reads "system-42-link" (or a path ending in it) as 42;
// 0 when it is not one.
func ParseGenerationLink(s string) int {
	s = s[strings.LastIndex(s, "/")+1:]
	var n int
	if _, err := fmt.Sscanf(s, "system-%d-link", &n); err != nil {
		return 0
	}
	return n
}
