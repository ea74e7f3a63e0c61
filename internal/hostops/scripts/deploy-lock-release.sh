#!/bin/sh
# deploy-lock-release ROOT RUNID < RECORD: when run RUNID holds the deploy
# lock, write RECORD (JSON) as the last deploy's record, then remove the lock.
# A lock held by another run is left alone.
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
d="${1%/}/var/lib/nixctl"
grep -qF -- "$2" "$d/deploy.lock/info" 2>/dev/null || exit 0
if [ ! -e "$d/last-deploy.json" ] || [ -f "$d/last-deploy.json" ]; then
  cat >"$d/last-deploy.json.tmp" && chmod 644 "$d/last-deploy.json.tmp" && mv -f "$d/last-deploy.json.tmp" "$d/last-deploy.json"
fi
rm -rf "$d/deploy.lock"
