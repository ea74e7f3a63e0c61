#!/bin/sh
# home-clobbers ROOT GENERATION EXT: the files in the user's home that
# GENERATION's activation would refuse to overwrite: "C FILE" for a file in
# the way, "B FILE" for one whose backup FILE.EXT exists already (EXT is
# home-manager's -b, "" for none).
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
ext=$3
cd "$2/home-files" 2>/dev/null || exit 0
find . \( -type f -o -type l \) -print | while IFS= read -r f; do
  t="$HOME/${f#./}"
  [ -e "$t" ] || [ -L "$t" ] || continue
  if [ -L "$t" ]; then case "$(readlink "$t")" in /nix/store/*-home-manager-files/*) continue;; esac; fi
  cmp -s "$f" "$t" && continue
  if [ ! -L "$t" ] && [ -n "$ext" ]; then [ -e "$t.$ext" ] && printf 'B %s\n' "$t"; continue; fi
  printf 'C %s\n' "$t"
done
