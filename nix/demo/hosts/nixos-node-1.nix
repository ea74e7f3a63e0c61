{
  hostName = "nixos-node-1";
  version = "25.05";
}
