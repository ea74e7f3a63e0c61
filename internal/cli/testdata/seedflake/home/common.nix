# Shared by the laptop and the desktop: the user gabriel.
{ ... }:
{
  home.username = "gabriel";
  home.homeDirectory = "/home/gabriel";
}
