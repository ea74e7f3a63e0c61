{
  description = "sops-nix stand-in for nixctl's tests";
  outputs = { self }: {
    nixosModules.sops = { };
    homeManagerModules.sops = { };
  };
}
