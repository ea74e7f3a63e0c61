{
  # Stand-in for nixpkgs in tests of this repository's flake.nix: enough of
  # lib and of a package set to evaluate every output offline. callPackage
  # really calls nix/package.nix; buildGoModule returns its arguments as a
  # fake derivation, so tests can read what would be built.
  description = "nixpkgs stand-in for nixctl's flake tests";
  outputs = { self }:
    let
      lib = import ./lib.nix;
      pkgsFor = system: import ./pkgs.nix { inherit lib system; };
    in
    {
      inherit lib;
      legacyPackages = lib.genAttrs [ "x86_64-linux" "aarch64-linux" "x86_64-darwin" "aarch64-darwin" ] pkgsFor;
    };
}
