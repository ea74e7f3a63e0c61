#!/bin/sh
# closure-diff ROOT OLD NEW: compare two system closures in the host's own
# store (OLD is what it runs, NEW what nixctl copied there): nix store
# diff-closures OLD NEW, a line "--nixctl-sizes--", then nix path-info
# --json --closure-size OLD NEW.
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
command -v nix >/dev/null || { echo "nix is not on the PATH of $(id -un)" >&2; exit 69; }
for p in "$2" "$3"; do
  [ -e "$p" ] || { echo "$p is not in the host's store" >&2; exit 66; }
done
nix --extra-experimental-features nix-command store diff-closures "$2" "$3" || exit 1
echo "--nixctl-sizes--"
nix --extra-experimental-features nix-command path-info --json --closure-size "$2" "$3" || exit 1
