# A package set: fake derivations, and a callPackage that calls for real.
{ lib, system }:
let
  fake = name: attrs: attrs // {
    type = "derivation";
    inherit name;
    outPath = "/nix/store/00000000000000000000000000000000-${name}";
  };
  self = {
    inherit lib;
    stdenv = {
      hostPlatform.system = system;
      buildPlatform.canExecute = _: true;
    };
    callPackage = fn: args:
      let
        f = import fn;
        auto = builtins.intersectAttrs (builtins.functionArgs f) self;
      in
      f (auto // args);
    buildGo126Module = args: fake "${args.pname}-${args.version}" args;
    go_1_26 = fake "go-1.26.8" { version = "1.26.8"; };
    installShellFiles = fake "install-shell-files" { };
    mkShell = args: fake "shell" args;
    gopls = fake "gopls" { };
    sops = fake "sops" { };
    age = fake "age" { };
    ssh-to-age = fake "ssh-to-age" { };
    nix = fake "nix" { };
    nixfmt = fake "nixfmt" { };
  };
in
self
