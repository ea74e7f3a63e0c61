{
  description = "nixGL stand-in for nixctl's tests";
  outputs = { self }: { };
}
