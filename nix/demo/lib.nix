# Stand-ins for nixpkgs.lib.nixosSystem and home-manager's
# homeConfiguration: each returns the attributes nixctl reads.
#
# Builders take mkdir and chmod from the build machine (PATH below): the demo
# is meant for a machine without nixpkgs, where the sandbox is off (see the
# README's set-up). Evaluation, which most of the demo does, needs nothing.
{ system }:
let
  assertString = what: v:
    if builtins.isString v then v
    else throw "${what} must be a string, got ${builtins.typeOf v}";
in
{
  host = cfg: {
    config.networking.hostName = cfg.hostName;
    config.system.build.toplevel = derivation {
      name = "nixos-system-${assertString "networking.hostName" cfg.hostName}-${cfg.version}";
      inherit system;
      builder = "/bin/sh";
      args = [
        "-c"
        ''
          PATH=/usr/bin:/bin
          mkdir -p $out/bin
          echo ${cfg.version} > $out/nixos-version
          printf '#!/bin/sh\necho "switching ${cfg.hostName} ($1)"\n' > $out/bin/switch-to-configuration
          chmod +x $out/bin/switch-to-configuration
        ''
      ];
    };
  };

  profile = cfg: {
    activationPackage = derivation {
      name = "home-manager-generation";
      inherit system;
      builder = "/bin/sh";
      args = [
        "-c"
        ''
          PATH=/usr/bin:/bin
          mkdir -p $out/home-files
          printf '#!/bin/sh\necho "activating ${cfg.user} (${builtins.concatStringsSep " " cfg.packages})"\n' > $out/activate
          chmod +x $out/activate
        ''
      ];
    };
  };
}
