# What every NixOS server shares: the user, SSH with keys only, the firewall,
# journald limits, nix settings, optional swap and sops-nix reading its age
# key from the SSH host key. Hosts tune it through the fleet.server options.
{ config, lib, pkgs, user, ... }:
let
  cfg = config.fleet.server;
in
{
  options.fleet.server = {
    sshPort = lib.mkOption {
      type = lib.types.port;
      default = 22;
      description = "Port sshd listens on (opened in the firewall). Change nixctl.yaml's port with it.";
    };
    authorizedKeys = lib.mkOption {
      type = lib.types.listOf lib.types.singleLineStr;
      default = [ ];
      example = [ "ssh-ed25519 AAAA... gabriel@laptop" ];
      description = "SSH public keys allowed to log in as the user. Password login is off: without a key, nobody can log in.";
    };
    swapSizeMiB = lib.mkOption {
      type = lib.types.ints.unsigned;
      default = 0;
      description = "Size of /var/lib/swapfile in MiB; 0 means no swap file.";
    };
    timeZone = lib.mkOption {
      type = lib.types.str;
      default = "Europe/Paris";
      description = "The host's time zone.";
    };
  };

  config = {
    warnings = lib.optional (cfg.authorizedKeys == [ ]) ''
      fleet.server.authorizedKeys is empty on ${config.networking.hostName}: password login is off,
      so nobody will be able to log in over SSH. Add your public key in hosts/${config.networking.hostName}/configuration.nix.
    '';

    users.users.${user} = {
      isNormalUser = true;
      extraGroups = [ "wheel" ];
      shell = pkgs.zsh;
      openssh.authorizedKeys.keys = cfg.authorizedKeys;
    };
    # Required when a user's shell is zsh.
    programs.zsh.enable = true;
    # nixos-rebuild --target-host deploys as the user and elevates with sudo.
    security.sudo.wheelNeedsPassword = false;

    services.openssh = {
      enable = true;
      ports = [ cfg.sshPort ];
      openFirewall = true;
      settings = {
        PasswordAuthentication = false;
        KbdInteractiveAuthentication = false;
        PermitRootLogin = "no";
      };
    };

    networking.firewall.enable = true;

    services.journald.extraConfig = ''
      SystemMaxUse=1G
      MaxRetentionSec=1month
    '';

    nix.settings = {
      experimental-features = [ "nix-command" "flakes" ];
      trusted-users = [ "root" "@wheel" ];
      auto-optimise-store = true;
    };
    nix.gc = {
      automatic = true;
      dates = "weekly";
      options = "--delete-older-than 14d";
    };
    # dates is a list here: a plain string fails evaluation.
    nix.optimise = {
      automatic = true;
      dates = [ "weekly" ];
    };
    # Upgrades come from this repository (nixctl deploy), never from the host itself.
    system.autoUpgrade.enable = false;

    swapDevices = lib.optional (cfg.swapSizeMiB > 0) {
      device = "/var/lib/swapfile";
      size = cfg.swapSizeMiB;
    };

    # Secrets are decrypted on the host with the age key derived from its SSH
    # host key: nixctl secrets add-host HOST lets it read the servers' files.
    # Declare each secret with the file nixctl secrets add wrote, e.g.
    # sops.secrets.db = { sopsFile = ../../secrets/server/db.yml; key = "password"; };
    sops.age.sshKeyPaths = [ "/etc/ssh/ssh_host_ed25519_key" ];

    time.timeZone = cfg.timeZone;
    i18n.defaultLocale = "en_US.UTF-8";
  };
}
