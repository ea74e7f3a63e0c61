{
  # A fleet of Home Manager profiles made of plain derivations (no inputs):
  # each activationPackage has home-files and an activate script that
  # records who ran it, like home-manager's own generations.
  description = "nixctl home fixture";

  outputs = { self }:
    let
      system = "x86_64-linux";
      versions = import ./packages.nix;
      sh = name: script: derivation {
        inherit name system;
        builder = "/bin/sh";
        PATH = "/bin:/usr/bin";
        args = [ "-c" script ];
      };
      # A package whose size grows with its "size" so diff-closures shows it.
      pkg = name: v: sh "${name}-${v.version}" ''
        mkdir -p $out/bin
        i=0
        while [ $i -lt ${toString v.size} ]; do
          echo "${name} ${v.version} ......................................................................" >> $out/bin/${name}
          i=$((i+1))
        done
      '';
      pkgs = builtins.attrValues (builtins.mapAttrs pkg versions);
      files = sh "home-manager-files" ''
        mkdir -p $out/.config/demo
        echo "managed by home-manager" > $out/.config/demo/config
        echo "set -o vi" > $out/.demorc
      '';
      # activate does what home-manager's does that nixctl relies on: it
      # makes its generation current in the home-manager profile (when this
      # user may write to the store), then records who ran it.
      profile = user: sh "home-manager-generation" ''
        mkdir -p $out
        ln -s ${files} $out/home-files
        echo ${builtins.concatStringsSep " " pkgs} > $out/packages
        cat > $out/activate <<'EOF'
        #!/bin/sh
        echo "activating @out@ for ${user} as $(id -un)"
        s="''${XDG_STATE_HOME:-$HOME/.local/state}/nix/profiles"
        if [ -d "$s" ]; then p="$s/home-manager"; else p="/nix/var/nix/profiles/per-user/$(id -un)/home-manager"; fi
        if [ -w /nix/var/nix/db ] || [ -S /nix/var/nix/daemon-socket/socket ]; then
          if [ "$(readlink -f "$p" 2>/dev/null)" != "@out@" ]; then nix-env -p "$p" --set "@out@" || exit 1; fi
        fi
        echo "@out@" > "$HOME/.nixctl-activated"
        EOF
        sed -i "s|@out@|$out|g" $out/activate
        chmod +x $out/activate
      '';
    in
    {
      homeConfigurations = {
        "gabriel@laptop" = { activationPackage = profile "gabriel"; };
        server = { activationPackage = profile "ops"; };
      };
    };
}
