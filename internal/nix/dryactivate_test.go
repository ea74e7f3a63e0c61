package nix

import (
	"reflect"
	"testing"
)

func TestParseDryActivate(t *testing.T) {
	t.Parallel()
	out := "building the system configuration...\n" +
		"would stop the following units: accounts-daemon.service\n" +
		"would NOT stop the following changed units: getty@tty1.service\n" +
		"would activate the configuration...\n" +
		"\x1b[1mwould restart systemd\x1b[0m\n" +
		"would reload the following units: dbus.service\n" +
		"would restart the following units: sshd.service, nginx.service\n" +
		"would start the following units: accounts-daemon.service\n"
	got := ParseDryActivate(out)
	want := UnitChanges{
		Stop: []string{"accounts-daemon.service"}, Kept: []string{"getty@tty1.service"},
		Reload: []string{"dbus.service"}, Restart: []string{"nginx.service", "sshd.service"},
		Start: []string{"accounts-daemon.service"}, RestartSystemd: true,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
	if got.Empty() {
		t.Error("changes reported as empty")
	}
	if none := ParseDryActivate("would activate the configuration...\n"); !none.Empty() || none.Restart == nil {
		t.Errorf("nothing to do: %+v (lists must be empty, not null, for --json)", none)
	}
}
