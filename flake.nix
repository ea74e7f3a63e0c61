{
  description = "nixctl: run a whole Nix estate from one flake repository";

  # Completed by the packaging work (nix/package.nix); kept input-free until then.
  outputs = { self }: {
    templates.demo = {
      path = ./nix/demo;
      description = "nixctl's offline demo fleet";
    };
  };
}
