{
  # nixctl's offline demo fleet: three fake NixOS hosts and two Home Manager
  # profiles, built from plain derivations so that it needs no network input.
  # Real fleets use nixpkgs.lib.nixosSystem and home-manager; nixctl treats
  # both the same way.
  description = "nixctl demo fleet";

  outputs = { self }:
    let
      system = "x86_64-linux";
      lib = import ./lib.nix { inherit system; };
    in
    {
      nixosConfigurations = {
        nixos-mini = lib.host (import ./hosts/nixos-mini.nix);
        nixos-node-1 = lib.host (import ./hosts/nixos-node-1.nix);
        gateway = lib.host (import ./hosts/gateway.nix);
      };

      homeConfigurations = {
        "gabriel@laptop" = lib.profile (import ./home/laptop.nix);
        server = lib.profile (import ./home/server.nix);
      };

      checks.${system}.inventory-names = derivation {
        name = "demo-check";
        inherit system;
        builder = "/bin/sh";
        args = [ "-c" "echo ok > $out" ];
      };
    };
}
