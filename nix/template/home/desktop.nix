# The desktop: the laptop's profile plus the audio workstation.
{ pkgs, ... }:
{
  imports = [
    ./common.nix
    ./graphical.nix
  ];

  home.packages = with pkgs; [
    reaper
  ];
}
