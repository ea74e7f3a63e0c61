{ ... }: import ./common.nix { }
