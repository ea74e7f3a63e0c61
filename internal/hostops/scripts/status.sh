#!/bin/sh
# status ROOT: what the host runs, as key=value lines.
# Exit codes (the one table for every nixctl host script; internal/hostops/exitcodes.go):
#   0   done
#   1   failed; the reason is on stderr
#   66  the generation is missing, or there are no generations
#   69  nix is not on the PATH
#   70  the activation failed and the previous generation is current again
#   73  a deploy holds the host; its lock record is on stderr
#   75  the lock is held: by another run (its record on stdout), or for longer than the wait
#   77  sudo -n refused to run
set -u
r=${1%/}
cur="$r/run/current-system"; boot="$r/run/booted-system"
echo "version=$(cat "$cur/nixos-version" 2>/dev/null)"
echo "current=$(readlink "$cur" 2>/dev/null)"
echo "booted=$(readlink "$boot" 2>/dev/null)"
for f in kernel initrd kernel-modules; do
  echo "cur_$f=$(readlink "$cur/$f" 2>/dev/null)"
  echo "boot_$f=$(readlink "$boot/$f" 2>/dev/null)"
done
echo "cur_systemd=$(readlink "$cur/systemd" 2>/dev/null)"
g=$(readlink "$r/nix/var/nix/profiles/system" 2>/dev/null)
echo "generation=$g"
# What the next boot starts (nixos-rebuild boot moves only the profile).
p=; [ -n "$g" ] && p=$(readlink -f "$r/nix/var/nix/profiles/system" 2>/dev/null)
echo "profile=$p"
[ -n "$g" ] && echo "generation_time=$(stat -c %Y "$r/nix/var/nix/profiles/$g" 2>/dev/null)"
echo "last=$(cat "$r/var/lib/nixctl/last-deploy.json" 2>/dev/null)"
echo "lock=$(cat "$r/var/lib/nixctl/deploy.lock/info" 2>/dev/null)"
echo "watchdog=$(tr '\n' ' ' <"$r/var/lib/nixctl/watchdog/armed" 2>/dev/null)"
exit 0
