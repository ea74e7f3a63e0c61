# The laptop's profile plus the audio packages.
{ ... }:
let
  common = import ./common.nix { };
in
common // { home = common.home // { packages = [ "reaper" ]; }; }
