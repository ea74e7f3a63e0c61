#!/bin/sh
# preflight ROOT SUDO: can nixctl work on this host as this user? nix must be
# on the PATH and, with SUDO=1, sudo must run without a password.
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
command -v nix >/dev/null || { echo "nix is not on the PATH of ${USER:-$(id -un)}" >&2; exit 69; }
if [ "$2" = 1 ]; then
  sudo -n true || exit 77
fi
exit 0
