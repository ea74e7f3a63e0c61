# The parts of nixpkgs' lib that flake.nix and nix/package.nix use.
{
  genAttrs = names: f: builtins.listToAttrs (map (n: { name = n; value = f n; }) names);
  versionAtLeast = v: min: builtins.compareVersions v min >= 0;
  assertMsg = cond: msg: if cond then true else throw msg;
  optionalString = cond: s: if cond then s else "";
  fileset = {
    unions = paths: paths;
    toSource = { root, fileset }: root;
  };
  platforms = {
    linux = [ "x86_64-linux" "aarch64-linux" ];
    darwin = [ "x86_64-darwin" "aarch64-darwin" ];
  };
}
