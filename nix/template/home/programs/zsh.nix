# zsh with oh-my-zsh; shared by every profile, servers included.
{ ... }:
{
  programs.zsh = {
    enable = true;
    enableCompletion = true;
    oh-my-zsh = {
      enable = true;
      plugins = [ "git" "sudo" "kubectl" ];
    };
    shellAliases = {
      ll = "ls -l";
      k = "kubectl";
    };
    # initContent: the older initExtra is deprecated.
    initContent = ''
      bindkey -e
    '';
  };
}
