# `import nixpkgs { ... }` in the template: a package set with what its
# outputs name (mkShell for devShells, a formatter).
{ ... }:
let
  lib = import ./lib.nix;
in
{
  inherit lib;
  mkShell = _: lib.stubDrv "shell-stub" { };
  nixfmt-rfc-style = lib.stubDrv "nixfmt-stub" { };
}
