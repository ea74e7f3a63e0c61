// Package inventory owns nixctl.yaml's model: the fleet of NixOS hosts and Home
// Manager profiles, its validation (every problem at once, with file, line and
// field) and selection of hosts and profiles by name, glob, @tag or --all.
package inventory

import (
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// FileName is the inventory's name beside flake.nix.
const FileName = "nixctl.yaml"

// Fleet is a validated inventory.
type Fleet struct {
	// File is the inventory's path; Dir the directory holding it.
	File string `json:"file"`
	Dir  string `json:"dir"`
	// Flake is the flake reference: an absolute path for a local flake.
	Flake    string    `json:"flake"`
	Defaults Defaults  `json:"defaults"`
	Hosts    []Host    `json:"hosts"`
	Profiles []Profile `json:"profiles"`
	Secrets  Secrets   `json:"secrets"`
}

// Defaults are inherited by every host that does not set its own.
type Defaults struct {
	// User and Port, like a host's, are unset ("" and 0) unless written:
	// the ssh configuration decides then (see internal/remote).
	User       string   `json:"user"`
	Port       int      `json:"port"`
	Sudo       bool     `json:"sudo"`
	BuildHost  string   `json:"buildHost"`
	Parallel   int      `json:"parallel"`
	SSHOptions []string `json:"sshOptions"`
	// Identity is an SSH private key file used for every host.
	Identity string `json:"identity,omitempty"`
	// Rebuild forces the nixos-rebuild flavour: auto (detect), bash or ng.
	Rebuild string `json:"rebuild"`
	// MagicRollback: a host that nixctl cannot reach again after switch or
	// test rolls itself back (nil: on).
	MagicRollback *bool `json:"magicRollback,omitempty"`
	// ConfirmTimeout is how long after the activation a host waits for
	// nixctl to confirm before rolling back (0: nixctl's default).
	ConfirmTimeout time.Duration `json:"confirmTimeout,omitempty"`
	// SubstituteOnTarget lets hosts fetch from their binary caches
	// (nixos-rebuild --use-substitutes) instead of through this machine.
	SubstituteOnTarget bool `json:"substituteOnTarget"`
	// Batch rolls deploys out in batches of this size (zero: all at once).
	Batch Batch `json:"batch,omitzero"`
	// Cache is a binary cache URL the built systems are pushed to before
	// activation, for the hosts to substitute from ("" = none).
	Cache string `json:"cache,omitempty"`
}

// Host is a NixOS machine deployed with nixos-rebuild --target-host.
type Host struct {
	Name string `json:"name"`
	// Address is a DNS name, an IP address or an ssh alias.
	Address string `json:"address"`
	Attr    string `json:"attr"`
	// User and Port are what nixctl.yaml says ("" and 0 when it says
	// nothing): they override the ssh configuration as ssh -l and -p would;
	// with neither, ssh_config decides, and nixctl logs in as root.
	User       string   `json:"user"`
	Port       int      `json:"port"`
	Sudo       bool     `json:"sudo"`
	Tags       []string `json:"tags"`
	BuildHost  string   `json:"buildHost"`
	SSHOptions []string `json:"sshOptions"`
	Identity   string   `json:"identity,omitempty"`
	Rebuild    string   `json:"rebuild"`
	Health     []Health `json:"health"`
	// MagicRollback and ConfirmTimeout: see Defaults (inherited from there).
	MagicRollback  *bool         `json:"magicRollback,omitempty"`
	ConfirmTimeout time.Duration `json:"confirmTimeout,omitempty"`
	// Secrets are path globs (relative to the fleet directory, ** allowed)
	// of the sops files the host decrypts; nil when the inventory is silent.
	Secrets []string `json:"secrets,omitempty"`
	// Line is where the host starts in the file (0 if unknown).
	Line    int  `json:"-"`
	sudoSet bool // sudo: was written for this host; else defaults.sudo applies
}

// Health is one post-activation check; exactly one of TCP, HTTP, Command is set.
type Health struct {
	TCP          string        `json:"tcp,omitempty"`
	HTTP         string        `json:"http,omitempty"`
	ExpectStatus int           `json:"expectStatus,omitempty"`
	Command      string        `json:"command,omitempty"`
	Timeout      time.Duration `json:"timeout,omitempty"`
}

// Kind names the check's type.
func (h Health) Kind() string {
	switch {
	case h.TCP != "":
		return "tcp"
	case h.HTTP != "":
		return "http"
	default:
		return "command"
	}
}

// Target is what the check probes.
func (h Health) Target() string {
	switch {
	case h.TCP != "":
		return h.TCP
	case h.HTTP != "":
		return h.HTTP
	default:
		return h.Command
	}
}

// Profile is a Home Manager configuration, here or on a host of the fleet.
type Profile struct {
	Name            string   `json:"name"`
	Attr            string   `json:"attr"`
	User            string   `json:"user"`
	Host            string   `json:"host"`
	BackupExtension string   `json:"backupExtension"`
	Tags            []string `json:"tags"`
	// Secrets are path globs of the sops files the profile decrypts, as for
	// hosts.
	Secrets []string `json:"secrets,omitempty"`
	// Recipient names the .sops.yaml key (its anchor) of the machine the
	// profile runs on, which decrypts the profile's secrets there.
	Recipient string `json:"recipient,omitempty"`
	Line      int    `json:"-"`
}

// Secrets says where sops files and .sops.yaml live, relative to Fleet.Dir.
type Secrets struct {
	Dir        string `json:"dir"`
	SopsConfig string `json:"sopsConfig"`
}

// SecretsDir is the absolute secrets directory.
func (f *Fleet) SecretsDir() string { return filepath.Join(f.Dir, f.Secrets.Dir) }

// SopsConfigPath is the absolute path of .sops.yaml.
func (f *Fleet) SopsConfigPath() string { return filepath.Join(f.Dir, f.Secrets.SopsConfig) }

// Host returns the host named name.
func (f *Fleet) Host(name string) (*Host, bool) {
	for i := range f.Hosts {
		if f.Hosts[i].Name == name {
			return &f.Hosts[i], true
		}
	}
	return nil, false
}

// Profile returns the profile named name.
func (f *Fleet) Profile(name string) (*Profile, bool) {
	for i := range f.Profiles {
		if f.Profiles[i].Name == name {
			return &f.Profiles[i], true
		}
	}
	return nil, false
}

// Tags lists every tag of hosts and profiles, sorted.
func (f *Fleet) Tags() []string {
	var tags []string
	for _, h := range f.Hosts {
		tags = append(tags, h.Tags...)
	}
	for _, p := range f.Profiles {
		tags = append(tags, p.Tags...)
	}
	slices.Sort(tags)
	return slices.Compact(tags)
}

// Target is user@address, what ssh and nixos-rebuild --target-host take.
func (h *Host) Target() string {
	addr := h.Address
	if strings.Contains(addr, ":") { // IPv6
		addr = "[" + addr + "]"
	}
	if h.User == "" {
		return addr
	}
	return h.User + "@" + addr
}

// SSHTarget is user@address without IPv6 brackets, as ssh(1) wants it.
func (h *Host) SSHTarget() string {
	if h.User == "" {
		return h.Address
	}
	return h.User + "@" + h.Address
}

// Dial is address:port for a TCP connection.
func (h *Host) Dial() string {
	addr := h.Address
	if strings.Contains(addr, ":") {
		addr = "[" + addr + "]"
	}
	return addr + ":" + strconv.Itoa(h.Port)
}

// HasTag reports whether the host carries tag.
func (h *Host) HasTag(tag string) bool { return slices.Contains(h.Tags, tag) }

// HasTag reports whether the profile carries tag.
func (p *Profile) HasTag(tag string) bool { return slices.Contains(p.Tags, tag) }
