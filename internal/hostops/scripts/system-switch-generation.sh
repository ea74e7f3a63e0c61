#!/bin/sh
# system-switch-generation ROOT N: make generation N of the system profile
# current and activate it, as nixos-rebuild switch --rollback does for the
# generation before.
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
p="${1%/}/nix/var/nix/profiles/system"
nix-env -p "$p" --switch-generation "$2" && "$p/bin/switch-to-configuration" switch
