# The roadmap's validation service: Prometheus' node exporter on port 9100.
# nixctl.yaml's health check asks http://<host>:9100/metrics after each deploy.
{ config, lib, ... }:
let
  cfg = config.fleet.nodeExporter;
in
{
  options.fleet.nodeExporter = {
    enable = lib.mkEnableOption "the Prometheus node exporter" // {
      default = true;
    };
    port = lib.mkOption {
      type = lib.types.port;
      default = 9100;
      description = "Port of the exporter, opened in the firewall.";
    };
  };

  config = lib.mkIf cfg.enable {
    services.prometheus.exporters.node = {
      enable = true;
      port = cfg.port;
      openFirewall = true;
      enabledCollectors = [ "systemd" ];
    };
  };
}
