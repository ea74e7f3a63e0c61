{
  hostName = "gateway";
  version = "25.05";
}
