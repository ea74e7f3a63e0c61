#!/bin/sh
# system-reactivate ROOT: activate the system profile again. nixos-rebuild
# test leaves the profile on what ran before, so this undoes a test.
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
"${1%/}/nix/var/nix/profiles/system/bin/switch-to-configuration" test
