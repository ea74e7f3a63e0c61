# What every profile shares: the user, sops-nix for Home Manager, environment
# variables, every module in home/programs/, and the kubeconfigs kept
# encrypted in secrets/kubeconfig/ (decrypted into ~/.kube/kubeconfig/).
{ config, lib, pkgs, inputs, user, ... }:
let
  programs = ./programs;
  programModules = lib.mapAttrsToList (name: _: programs + "/${name}") (
    lib.filterAttrs (name: type: type == "regular" && lib.hasSuffix ".nix" name) (builtins.readDir programs)
  );

  # One secret per secrets/kubeconfig/<name>.yml, each encrypted whole with
  # sops (nixctl secrets add kubeconfig, see README.md). No folder, none.
  kubeDir = ../secrets/kubeconfig;
  kubeconfigs = lib.filterAttrs (name: type: type == "regular" && lib.hasSuffix ".yml" name) (
    if builtins.pathExists kubeDir then builtins.readDir kubeDir else { }
  );
in
{
  imports = [ inputs.sops-nix.homeManagerModules.sops ] ++ programModules;

  home.username = user;
  home.homeDirectory = "/home/${user}";
  # The Home Manager release this profile was first written for; do not
  # raise it when upgrading (read the release notes first).
  home.stateVersion = "25.05";
  programs.home-manager.enable = true;

  home.sessionVariables = {
    EDITOR = "vim";
    KUBECONFIG_DIR = "${config.home.homeDirectory}/.kube/kubeconfig";
  };

  sops = {
    # The age key of this machine (age-keygen -o ~/.config/sops/age/keys.txt).
    age.keyFile = "${config.home.homeDirectory}/.config/sops/age/keys.txt";
    # Other secrets: point sopsFile (or defaultSopsFile) at a file nixctl
    # secrets add wrote under secrets/.
    secrets = lib.mapAttrs' (
      file: _:
      lib.nameValuePair "kubeconfig/${lib.removeSuffix ".yml" file}" {
        sopsFile = kubeDir + "/${file}";
        format = "yaml";
        # The empty key emits the whole decrypted document.
        key = "";
        path = "${config.home.homeDirectory}/.kube/kubeconfig/${file}";
      }
    ) kubeconfigs;
  };
}
