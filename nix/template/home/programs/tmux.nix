# tmux, configured by a plain file kept in home/config/ (linked with
# xdg.configFile, as the other hand-written configurations are).
{ pkgs, ... }:
{
  home.packages = [ pkgs.tmux ];
  xdg.configFile."tmux/tmux.conf".source = ../config/tmux.conf;
}
