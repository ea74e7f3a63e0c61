package fakecmd

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// homeManager answers `home-manager switch|build --flake FLAKE[#ATTR] [-b
// EXT]` as home-manager 25.05 does, with the real nix: it builds
// FLAKE#homeConfigurations."ATTR".activationPackage and, for switch, runs
// the generation's activate (which makes it the profile's current
// generation), with -b as HOME_MANAGER_BACKUP_EXT. Without #ATTR it looks
// for USER@hostname, then USER. Other arguments are ignored.
func homeManager(args []string) int {
	if len(args) == 0 || (args[0] != "switch" && args[0] != "build") {
		fmt.Fprintf(os.Stderr, "fake home-manager: unknown command %q\n", strings.Join(args, " "))
		return 1
	}
	var flake, backup string
	for i := 1; i < len(args)-1; i++ {
		switch args[i] {
		case "--flake":
			flake = args[i+1]
		case "-b":
			backup = args[i+1]
		}
	}
	if flake == "" {
		fmt.Fprintln(os.Stderr, "fake home-manager: only --flake is supported")
		return 1
	}
	dir, attr, ok := strings.Cut(flake, "#")
	if !ok {
		var err error
		if attr, err = defaultAttr(dir); err != nil {
			fmt.Fprintf(os.Stderr, "fake home-manager: %v\n", err)
			return 1
		}
	}
	build := exec.Command("nix", "build", "--no-link", "--json", dir+`#homeConfigurations."`+attr+`".activationPackage`)
	build.Stderr = os.Stderr
	out, err := build.Output()
	if err != nil {
		return exitCode(err)
	}
	var results []struct {
		Outputs map[string]string `json:"outputs"`
	}
	if err := json.Unmarshal(out, &results); err != nil || len(results) != 1 {
		fmt.Fprintf(os.Stderr, "fake home-manager: nix build printed %q\n", out)
		return 1
	}
	generation := results[0].Outputs["out"]
	if args[0] == "build" {
		fmt.Println(generation)
		return 0
	}
	fmt.Println("Starting Home Manager activation")
	activate := exec.Command(filepath.Join(generation, "activate"))
	activate.Stdout, activate.Stderr = os.Stdout, os.Stderr
	activate.Env = os.Environ()
	if backup != "" {
		activate.Env = append(activate.Env, "HOME_MANAGER_BACKUP_EXT="+backup)
	}
	if err := activate.Run(); err != nil {
		return exitCode(err)
	}
	return 0
}

// defaultAttr is home-manager's choice without #ATTR: USER@hostname if the
// flake has it, else USER.
func defaultAttr(dir string) (string, error) {
	user := os.Getenv("USER")
	host, _ := os.Hostname()
	for _, attr := range []string{user + "@" + host, user} {
		has, err := exec.Command("nix", "eval", "--json", dir+"#homeConfigurations", "--apply", "c: c ? \""+attr+"\"").Output()
		if err != nil {
			return "", fmt.Errorf("evaluating %s#homeConfigurations: %w", dir, err)
		}
		if strings.TrimSpace(string(has)) == "true" {
			return attr, nil
		}
	}
	return "", fmt.Errorf("no configuration %s@%s or %s in %s", user, host, user, dir)
}

func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	fmt.Fprintf(os.Stderr, "fake home-manager: %v\n", err)
	return 127
}
