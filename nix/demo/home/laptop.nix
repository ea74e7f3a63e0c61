{
  user = "gabriel";
  packages = [ "zsh" "atuin" "kubectl" ];
}
