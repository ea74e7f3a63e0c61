{
  hostName = "nixos-mini";
  version = "25.05";
}
