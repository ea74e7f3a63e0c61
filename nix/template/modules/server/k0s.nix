# The skeleton of the k0s cluster role. nixpkgs (mid-2025) has neither a k0s
# package nor a services.k0s module, so these options are the fleet's own:
# hosts say what they will be, and the firewall is prepared. Wire the
# k0s-nix flake (github:nix-community/k0s-nix: nixosModules.default plus
# overlays.default) here once the cluster is built; its API still moves.
{ config, lib, ... }:
let
  cfg = config.fleet.k0s;
in
{
  options.fleet.k0s = {
    enable = lib.mkEnableOption "this host's k0s cluster role (skeleton)";
    role = lib.mkOption {
      type = lib.types.enum [ "controller" "controller+worker" "worker" "single" ];
      default = "single";
      description = "The host's role in the k0s cluster.";
    };
    clusterName = lib.mkOption {
      type = lib.types.str;
      default = "k0s";
      description = "Name of the cluster.";
    };
  };

  config = lib.mkIf cfg.enable {
    # Kubernetes API, konnectivity and kubelet.
    networking.firewall.allowedTCPPorts =
      lib.optionals (cfg.role != "worker") [ 6443 8132 9443 ] ++ [ 10250 ];
    boot.kernelModules = [ "overlay" "br_netfilter" ];
    boot.kernel.sysctl = {
      "net.ipv4.ip_forward" = 1;
      "net.bridge.bridge-nf-call-iptables" = 1;
    };
    environment.etc."fleet/k0s-role".text = "${cfg.role}\n";
  };
}
