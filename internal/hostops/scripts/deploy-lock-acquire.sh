#!/bin/sh
# deploy-lock-acquire ROOT BREAK < RECORD: take the host's deploy lock (mkdir
# is atomic) and write RECORD (JSON) into it. BREAK=1 removes a held lock
# first. A Home Manager activation holds the host while it keeps an flock on
# ROOT/run/lock/nixctl (or ROOT/tmp/nixctl; see home-activate): this script
# takes its own lock, then looks at that one, and home-activate does the
# reverse, so the two never run at once.
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
root=${1%/}
d="$root/var/lib/nixctl"
mkdir -p "$d" || exit 1
if [ "$2" = 1 ]; then rm -rf "$d/deploy.lock"; fi
if mkdir "$d/deploy.lock" 2>/dev/null; then
  for h in "$root/run/lock/nixctl" "$root/tmp/nixctl"; do
    if [ -d "$h" ] && command -v flock >/dev/null 2>&1 && ! flock -n "$h" true 2>/dev/null; then
      rmdir "$d/deploy.lock"
      echo '{"who":"a Home Manager activation (nixctl home switch)","action":"home switch"}'
      exit 75
    fi
  done
  cat >"$d/deploy.lock/info" && exit 0
  exit 1
fi
cat "$d/deploy.lock/info" 2>/dev/null
exit 75
