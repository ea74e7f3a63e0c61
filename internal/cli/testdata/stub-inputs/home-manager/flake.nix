{
  # Stand-in for Home Manager: homeManagerConfiguration reads its modules
  # (so a missing profile file fails evaluation); no network needed.
  description = "home-manager stand-in for nixctl's tests";
  outputs = { self }:
    let
      stubDrv = name: extra: derivation ({
        inherit name;
        system = "x86_64-linux";
        builder = "/bin/sh";
        args = [ "-c" "echo ${name} > $out" ];
      } // extra);
    in
    {
      lib.homeManagerConfiguration = { pkgs, modules ? [ ], extraSpecialArgs ? { } }: {
        activationPackage = stubDrv "home-manager-generation" {
          modules = map (m: builtins.readFile m) modules;
        };
      };
      packages.x86_64-linux.default = stubDrv "home-manager-stub" { };
    };
}
