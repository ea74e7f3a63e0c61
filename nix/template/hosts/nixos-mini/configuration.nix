# nixos-mini: the reference server. The shared server module, this host's
# network, the validation service and its future k0s role.
{ ... }:
{
  imports = [
    ./hardware-configuration.nix
    ../../modules/server/base.nix
    ../../modules/server/networking.nix
    ../../modules/server/node-exporter.nix
    ../../modules/server/k0s.nix
  ];

  networking.hostName = "nixos-mini";

  fleet.server = {
    sshPort = 22;
    # Your SSH public key(s): password login is off.
    authorizedKeys = [ ];
    swapSizeMiB = 0;
  };

  # DHCP until you set a static address: check the interface name first
  # (ip link on the host), a wrong one cuts the host off.
  fleet.network = {
    interface = "eth0";
    address = null; # e.g. "192.168.1.20"
    prefixLength = 24;
    gateway = null;
    nameservers = [ ];
  };

  fleet.k0s = {
    enable = false;
    role = "single";
  };

  # The NixOS release first installed on this host; do not raise it when
  # upgrading (read the release notes first).
  system.stateVersion = "25.05";
}
