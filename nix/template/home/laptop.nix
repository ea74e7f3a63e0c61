# The laptop (EndeavourOS): the shared profile, nothing more.
{ ... }:
{
  imports = [
    ./common.nix
    ./graphical.nix
  ];
}
