# Command-line tools every profile gets; servers too, so nothing graphical.
{ pkgs, user, ... }:
{
  home.packages = with pkgs; [
    git
    htop
    jq
    ripgrep
    fd
    kubectl
    sops
    age
  ];

  programs.git = {
    enable = true;
    userName = user;
    userEmail = "${user}@example.com";
  };
}
