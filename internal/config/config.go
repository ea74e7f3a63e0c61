// Package config is the only package that imports viper. It layers nixctl's
// global settings (flags, NIXCTL_* environment variables, the inventory's own
// top-level keys) into one typed Config, and finds the inventory file.
package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/pflag"
	"github.com/spf13/viper"

	"github.com/nixctl/nixctl/internal/fault"
	"github.com/nixctl/nixctl/internal/inventory"
	"github.com/nixctl/nixctl/internal/nix"
)

// Global flags, each also read from NIXCTL_<NAME> (dashes become underscores).
const (
	FlagFlake   = "flake"
	FlagConfig  = "config"
	FlagJSON    = "json"
	FlagVerbose = "verbose"
	FlagQuiet   = "quiet"
	FlagDryRun  = "dry-run"
	FlagNoColor = "no-color"
	FlagYes     = "yes"
)

// EnvPrefix is the prefix of every environment variable nixctl reads.
const EnvPrefix = "NIXCTL"

// Config is the resolved global configuration.
type Config struct {
	// Flake is the flake reference from --flake or NIXCTL_FLAKE ("" = the
	// inventory's own flake: key, else its directory).
	Flake string
	// ConfigFile is the inventory path from --config or NIXCTL_CONFIG.
	ConfigFile string
	JSON       bool
	Verbose    bool
	Quiet      bool
	DryRun     bool
	NoColor    bool
	Yes        bool
}

// AddFlags declares the global flags on fs.
func AddFlags(fs *pflag.FlagSet) {
	fs.String(FlagFlake, "", "flake repository (a directory or flake reference) [$NIXCTL_FLAKE]")
	fs.String(FlagConfig, "", "inventory file, default: nixctl.yaml beside flake.nix [$NIXCTL_CONFIG]")
	fs.Bool(FlagJSON, false, "print results as JSON [$NIXCTL_JSON]")
	fs.BoolP(FlagVerbose, "v", false, "log every command nixctl runs [$NIXCTL_VERBOSE]")
	fs.BoolP(FlagQuiet, "q", false, "print only results and errors [$NIXCTL_QUIET]")
	fs.Bool(FlagDryRun, false, "print every step in order (commands shell-quoted, file writes with mode and size) and change nothing [$NIXCTL_DRY_RUN]")
	fs.Bool(FlagNoColor, false, "never colour output (also NO_COLOR) [$NIXCTL_NO_COLOR]")
	fs.BoolP(FlagYes, "y", false, "answer yes to confirmations [$NIXCTL_YES]")
}

// Load layers flags over NIXCTL_* variables over defaults. settings are
// the NIXCTL_* variables of the environment nixctl runs in, by full name;
// the process environment itself is never read, so a caller (a test) gives
// a run its own.
func Load(fs *pflag.FlagSet, settings map[string]string) (*Config, error) {
	v := viper.New()
	// The variables are viper's config layer: below flags, above the flags'
	// defaults. An empty variable is unset, as with viper's AutomaticEnv.
	layer := map[string]any{}
	for _, name := range []string{FlagFlake, FlagConfig, FlagJSON, FlagVerbose, FlagQuiet, FlagDryRun, FlagNoColor, FlagYes} {
		if s := settings[envName(name)]; s != "" {
			layer[name] = s
		}
		if f := fs.Lookup(name); f != nil {
			if err := v.BindPFlag(name, f); err != nil {
				return nil, err
			}
		}
	}
	if err := v.MergeConfigMap(layer); err != nil {
		return nil, err
	}
	c := &Config{
		Flake:      v.GetString(FlagFlake),
		ConfigFile: v.GetString(FlagConfig),
		JSON:       v.GetBool(FlagJSON),
		Verbose:    v.GetBool(FlagVerbose),
		Quiet:      v.GetBool(FlagQuiet),
		DryRun:     v.GetBool(FlagDryRun),
		NoColor:    v.GetBool(FlagNoColor),
		Yes:        v.GetBool(FlagYes),
	}
	for _, b := range []string{FlagJSON, FlagVerbose, FlagQuiet, FlagDryRun, FlagNoColor, FlagYes} {
		if s := settings[envName(b)]; s != "" && !isBool(s) {
			return nil, fault.Usagef("use true or false (or 1 or 0)", "%s=%q is not a boolean", envName(b), s)
		}
	}
	if c.Verbose && c.Quiet {
		return nil, fault.Usagef("pick one of them", "--verbose and --quiet contradict each other")
	}
	return c, nil
}

func envName(flag string) string {
	return EnvPrefix + "_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

func isBool(s string) bool {
	switch strings.ToLower(s) {
	case "1", "0", "t", "f", "true", "false":
		return true
	}
	return false
}

// ErrNoInventory is returned when no nixctl.yaml can be found.
var ErrNoInventory = errors.New("no nixctl.yaml found")

// FindInventory locates the inventory: --config, else nixctl.yaml in the
// --flake directory, else the nearest nixctl.yaml walking up from cwd.
func (c *Config) FindInventory(cwd string) (string, error) {
	if c.ConfigFile != "" {
		p := c.ConfigFile
		if !filepath.IsAbs(p) {
			p = filepath.Join(cwd, p)
		}
		if _, err := os.Stat(p); err != nil {
			return "", fault.New(fault.Inventory, fmt.Errorf("inventory %s: %w", c.ConfigFile, errors.Unwrap(err)), "check --config / NIXCTL_CONFIG")
		}
		return p, nil
	}
	if c.Flake != "" {
		dir, ok := LocalFlakeDir(c.Flake, cwd)
		if !ok {
			return "", fault.New(fault.Inventory, fmt.Errorf("%w for remote flake %q", ErrNoInventory, c.Flake), "nixctl reads its inventory from a local file: pass --config PATH as well")
		}
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			return "", fault.New(fault.Inventory, fmt.Errorf("flake directory %s does not exist", dir), "check --flake / NIXCTL_FLAKE")
		}
		p := filepath.Join(dir, inventory.FileName)
		if _, err := os.Stat(p); err != nil {
			return "", fault.New(fault.Inventory, fmt.Errorf("%w in %s", ErrNoInventory, dir), "create one with 'nixctl init', or pass --config PATH")
		}
		return p, nil
	}
	dir := cwd
	for {
		p := filepath.Join(dir, inventory.FileName)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		if _, err := os.Stat(filepath.Join(dir, "flake.nix")); err == nil {
			return "", fault.New(fault.Inventory, fmt.Errorf("%w: %s has flake.nix but no %s", ErrNoInventory, dir, inventory.FileName), "run 'nixctl init --adopt' there: it writes nixctl.yaml from the flake's nixosConfigurations and homeConfigurations")
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			break
		}
		dir = parent
	}
	return "", fault.New(fault.Inventory, fmt.Errorf("%w in %s or any parent directory", ErrNoInventory, cwd), "run nixctl inside your flake repository, set --flake DIR (or NIXCTL_FLAKE), or create one with 'nixctl init'")
}

// LocalFlakeDir returns the directory of a local flake reference.
func LocalFlakeDir(ref, cwd string) (string, bool) { return nix.LocalFlakeDir(ref, cwd) }
