{
  description = "nixctl: run a whole Nix estate from one flake repository";

  # nixos-26.05: its Go 1.26 satisfies go.mod's go line (1.25.8); nixos-25.05
  # only has Go 1.24. nix/package.nix asserts the version.
  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-26.05";

  outputs =
    { self, nixpkgs }:
    let
      systems = [ "x86_64-linux" "aarch64-linux" "x86_64-darwin" "aarch64-darwin" ];
      forAllSystems = f: nixpkgs.lib.genAttrs systems (system: f nixpkgs.legacyPackages.${system});
      version = if self ? shortRev then "git-${self.shortRev}" else "dev";
      # nixctl with the Go this flake is tested with, in any package set.
      nixctlFor =
        pkgs:
        pkgs.callPackage ./nix/package.nix {
          buildGoModule = pkgs.buildGo126Module;
          go = pkgs.go_1_26;
          inherit version;
        };
    in
    {
      packages = forAllSystems (pkgs: rec {
        nixctl = nixctlFor pkgs;
        default = nixctl;
      });

      apps = forAllSystems (pkgs: {
        default = {
          type = "app";
          program = "${self.packages.${pkgs.stdenv.hostPlatform.system}.nixctl}/bin/nixctl";
        };
      });

      overlays.default = final: prev: { nixctl = nixctlFor final; };

      devShells = forAllSystems (pkgs: {
        default = pkgs.mkShell {
          packages = [
            pkgs.go_1_26
            pkgs.gopls
            pkgs.sops
            pkgs.age
            pkgs.ssh-to-age
            pkgs.nix
          ];
        };
      });

      # nixfmt is the RFC 166 formatter from nixpkgs 25.11 on (nixfmt-rfc-style before).
      formatter = forAllSystems (pkgs: pkgs.nixfmt);

      templates = {
        default = {
          path = ./nix/template;
          description = "A fleet: NixOS servers and Home Manager profiles with sops-nix, managed by nixctl";
          welcomeText = ''
            Edit nixctl.yaml and flake.nix (the user, the hosts), then run `nixctl check`.
            `nixctl init` writes the same repository with your names filled in.
          '';
        };
        demo = {
          path = ./nix/demo;
          description = "nixctl's offline demo fleet";
        };
      };
    };
}
