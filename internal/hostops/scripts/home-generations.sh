#!/bin/sh
# home-generations ROOT: the user's home-manager profile (where Home Manager
# 25.05 keeps it), its nix-env --list-generations, "--", then one
# "N-link STOREPATH" line per generation.
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
s="${XDG_STATE_HOME:-$HOME/.local/state}/nix/profiles"
if [ -d "$s" ]; then p="$s/home-manager"; else p="${1%/}/nix/var/nix/profiles/per-user/${USER:-$(id -un)}/home-manager"; fi
echo "$p"
[ -e "$p" ] || exit 66
nix-env --list-generations -p "$p" || exit 1
echo --
for l in "$p"-*-link; do
  [ -e "$l" ] && printf '%s %s\n' "${l#"$p"-}" "$(readlink -f "$l")"
done
exit 0
