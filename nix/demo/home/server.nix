{
  user = "ops";
  packages = [ "zsh" "htop" ];
}
