# The server profile: the same user, zsh and command-line tools as
# home/common.nix, without sops-nix user secrets and nothing graphical.
{ user, ... }:
{
  imports = [
    ../programs/zsh.nix
    ../programs/cli.nix
    ../programs/atuin.nix
    ../programs/tmux.nix
  ];

  home.username = user;
  home.homeDirectory = "/home/${user}";
  home.stateVersion = "25.05";
  programs.home-manager.enable = true;

  home.sessionVariables.EDITOR = "vim";
  xdg.configFile."fleet/role".text = "server\n";
}
