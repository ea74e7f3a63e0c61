# The terminal of the workstations. nixGL's wrapper (home/graphical.nix)
# gives it OpenGL on EndeavourOS; servers do not import this file.
{ config, pkgs, ... }:
{
  programs.wezterm = {
    enable = true;
    package = config.lib.nixGL.wrap pkgs.wezterm;
    extraConfig = ''
      return {
        hide_tab_bar_if_only_one_tab = true,
      }
    '';
  };
}
