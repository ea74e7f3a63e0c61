# Minimal: the host name and the state version.
{ ... }:
{
  networking.hostName = "nixos-mini";
  system.stateVersion = "23.11";
}
