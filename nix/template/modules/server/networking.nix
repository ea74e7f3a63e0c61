# The LAN, its VLANs and the internal DNS, described once as fleet.network
# options and mapped onto NixOS's networking options.
{ config, lib, ... }:
let
  cfg = config.fleet.network;
in
{
  options.fleet.network = {
    interface = lib.mkOption {
      type = lib.types.str;
      default = "eth0";
      description = "The LAN interface.";
    };
    address = lib.mkOption {
      type = lib.types.nullOr lib.types.str;
      default = null;
      example = "192.168.1.20";
      description = "Static IPv4 address on the LAN; null keeps DHCP.";
    };
    prefixLength = lib.mkOption {
      type = lib.types.ints.between 0 32;
      default = 24;
      description = "Prefix length of the LAN.";
    };
    gateway = lib.mkOption {
      type = lib.types.nullOr lib.types.str;
      default = null;
      example = "192.168.1.1";
      description = "Default gateway when the address is static.";
    };
    nameservers = lib.mkOption {
      type = lib.types.listOf lib.types.str;
      default = [ ];
      example = [ "192.168.1.1" ];
      description = "DNS servers.";
    };
    vlans = lib.mkOption {
      type = lib.types.attrsOf (
        lib.types.submodule {
          options = {
            id = lib.mkOption {
              type = lib.types.ints.between 1 4094;
              description = "VLAN id.";
            };
            address = lib.mkOption {
              type = lib.types.nullOr lib.types.str;
              default = null;
              description = "Static IPv4 address on the VLAN.";
            };
            prefixLength = lib.mkOption {
              type = lib.types.ints.between 0 32;
              default = 24;
              description = "Prefix length of the VLAN.";
            };
          };
        }
      );
      default = { };
      example = { "vlan10" = { id = 10; address = "10.0.10.20"; }; };
      description = "VLANs on the LAN interface, by interface name.";
    };
    internalDNS = {
      enable = lib.mkEnableOption "an internal DNS server (dnsmasq) answering for the LAN";
      domain = lib.mkOption {
        type = lib.types.str;
        default = "home.arpa";
        description = "The internal domain.";
      };
      hosts = lib.mkOption {
        type = lib.types.attrsOf lib.types.str;
        default = { };
        example = { "nixos-mini" = "192.168.1.20"; };
        description = "Names (without the domain) and their addresses.";
      };
      upstream = lib.mkOption {
        type = lib.types.listOf lib.types.str;
        default = [ "1.1.1.1" "9.9.9.9" ];
        description = "Upstream resolvers.";
      };
    };
  };

  config = lib.mkMerge [
    (lib.mkIf (cfg.address != null) {
      networking.useDHCP = false;
      networking.interfaces.${cfg.interface}.ipv4.addresses = [
        {
          inherit (cfg) address prefixLength;
        }
      ];
      networking.defaultGateway = cfg.gateway;
    })
    { networking.nameservers = cfg.nameservers; }
    {
      networking.vlans = lib.mapAttrs (_: v: {
        inherit (v) id;
        interface = cfg.interface;
      }) cfg.vlans;
      networking.interfaces = lib.mapAttrs (_: v: {
        ipv4.addresses = lib.optional (v.address != null) {
          inherit (v) address prefixLength;
        };
      }) cfg.vlans;
    }
    (lib.mkIf cfg.internalDNS.enable {
      services.dnsmasq = {
        enable = true;
        resolveLocalQueries = true;
        settings = {
          domain = cfg.internalDNS.domain;
          local = "/${cfg.internalDNS.domain}/";
          server = cfg.internalDNS.upstream;
          address = lib.mapAttrsToList (
            name: ip: "/${name}.${cfg.internalDNS.domain}/${ip}"
          ) cfg.internalDNS.hosts;
        };
      };
      networking.firewall.allowedTCPPorts = [ 53 ];
      networking.firewall.allowedUDPPorts = [ 53 ];
    })
  ];
}
