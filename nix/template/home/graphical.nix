# Laptop and desktop run EndeavourOS, not NixOS: Home Manager's generic Linux
# target, and nixGL so that graphical programs from nixpkgs find OpenGL
# (home/programs/wezterm.nix wraps its package with config.lib.nixGL.wrap).
{ inputs, ... }:
{
  targets.genericLinux.enable = true;
  nixGL.packages = inputs.nixgl.packages;
  nixGL.defaultWrapper = "mesa";
}
