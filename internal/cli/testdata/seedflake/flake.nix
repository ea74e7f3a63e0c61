{
  # Shaped like the seed's repository (home/, hosts/, modules/, secrets/),
  # with no inputs: each configuration is a small stand-in that has the
  # options nixctl reads and a fake derivation where NixOS or Home Manager
  # would build one.
  description = "gabriel's Nix estate (offline stand-in)";

  outputs =
    { self }:
    let
      system = "x86_64-linux";
      fake =
        name:
        derivation {
          inherit name system;
          builder = "/bin/sh";
          args = [ "-c" "echo ${name} > $out" ];
        };
      # networking.fqdn as NixOS defines it: an error while networking.domain is unset.
      mkHost =
        name:
        let
          cfg = import (./hosts + "/${name}/configuration.nix") { };
        in
        {
          config = cfg // {
            networking = cfg.networking // {
              fqdn =
                if cfg.networking.domain or null != null then
                  "${cfg.networking.hostName}.${cfg.networking.domain}"
                else
                  throw "The option `networking.fqdn' is used but networking.domain is not set";
            };
            system.build.toplevel = fake "nixos-system-${name}";
          };
        };
      mkHome =
        file:
        let
          cfg = import file { };
        in
        {
          config = cfg;
          activationPackage = fake "home-manager-generation";
        };
    in
    {
      homeConfigurations = {
        laptop = mkHome ./home/laptop.nix;
        desktop = mkHome ./home/desktop.nix;
        server = mkHome ./home/server.nix;
      };

      nixosConfigurations = {
        nixos-mini = mkHost "nixos-mini";
      };
    };
}
