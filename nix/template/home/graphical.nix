# Laptop and desktop run EndeavourOS, not NixOS: Home Manager's generic Linux
# target, and nixGL so that graphical programs from nixpkgs find OpenGL.
{ config, pkgs, inputs, ... }:
{
  targets.genericLinux.enable = true;
  nixGL.packages = inputs.nixgl.packages;
  nixGL.defaultWrapper = "mesa";

  home.packages = [ (config.lib.nixGL.wrap pkgs.wezterm) ];
}
