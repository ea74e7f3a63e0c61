{
  # gabriel's Nix estate: Home Manager profiles (laptop, desktop, server) and
  # NixOS servers, managed with nixctl (see README.md and nixctl.yaml).
  description = "gabriel's Nix estate";

  inputs = {
    nixpkgs.url = "github:NixOS/nixpkgs/nixos-25.05";
    home-manager = {
      url = "github:nix-community/home-manager/release-25.05";
      inputs.nixpkgs.follows = "nixpkgs";
    };
    # OpenGL wrappers for graphical programs on a non-NixOS system (EndeavourOS).
    nixgl = {
      url = "github:nix-community/nixGL";
      inputs.nixpkgs.follows = "nixpkgs";
    };
    sops-nix = {
      url = "github:Mic92/sops-nix";
      inputs.nixpkgs.follows = "nixpkgs";
    };
    # nixctl itself, pinned by flake.lock like everything else: CI runs
    # `nix run --inputs-from . nixctl -- ci` (see `nixctl ci init`), and
    # `nix flake update nixctl` is a reviewed upgrade. It keeps its own
    # nixpkgs: it needs a newer Go than a stable release may carry.
    nixctl.url = "github:nixctl/nixctl";
  };

  outputs =
    { self, nixpkgs, home-manager, sops-nix, ... }@inputs:
    let
      system = "x86_64-linux";
      # The account on every machine: home/*.nix and modules/server/base.nix use it.
      user = "gabriel";
      pkgs = import nixpkgs {
        inherit system;
        # Only the unfree packages named here (REAPER on the desktop).
        config.allowUnfreePredicate = pkg: builtins.elem (nixpkgs.lib.getName pkg) [ "reaper" ];
      };

      # A Home Manager profile from a list of modules.
      mkHome =
        modules:
        home-manager.lib.homeManagerConfiguration {
          inherit pkgs modules;
          extraSpecialArgs = { inherit inputs user; };
        };

      # A NixOS host from hosts/<name>/configuration.nix.
      mkHost =
        name:
        nixpkgs.lib.nixosSystem {
          inherit system;
          specialArgs = { inherit inputs user; };
          modules = [
            sops-nix.nixosModules.sops
            (./hosts + "/${name}/configuration.nix")
          ];
        };
    in
    {
      homeConfigurations = {
        laptop = mkHome [ ./home/laptop.nix ];
        desktop = mkHome [ ./home/desktop.nix ];
        server = mkHome [ ./home/server/common.nix ];
        # nixctl:add-profile NAME = mkHome [ ./home/NAME.nix ];
      };

      nixosConfigurations = {
        nixos-mini = mkHost "nixos-mini";
        # nixctl:add-host NAME = mkHost "NAME";
      };

      # nix develop: the tools the README's procedures use.
      devShells.${system}.default = pkgs.mkShell {
        packages = [
          pkgs.sops
          pkgs.age
          pkgs.ssh-to-age
          pkgs.nixos-rebuild
          home-manager.packages.${system}.default
          inputs.nixctl.packages.${system}.default
        ];
      };

      formatter.${system} = pkgs.nixfmt-rfc-style;
    };
}
