{
  # Stand-in for nixpkgs in tests of the fleet template: lib.nixosSystem
  # reads each module file it is given (so a missing host file fails
  # evaluation) and returns a toplevel derivation; no network needed.
  description = "nixpkgs stand-in for nixctl's tests";
  outputs = { self }: {
    lib = import ./lib.nix;
    legacyPackages.x86_64-linux = import ./default.nix { };
  };
}
