#!/bin/sh
# home-activate ROOT WAIT generation GENERATION EXT
# home-activate ROOT WAIT rollback CURRENT TARGET
# Activate a Home Manager generation for this user under the host's home
# lock: GENERATION's activate script (EXT is home-manager's -b, "" for none),
# or the profile's generation TARGET, going back to CURRENT if that fails.
#
# The lock is an flock on the directory ROOT/run/lock/nixctl (ROOT/tmp/nixctl
# when /run/lock cannot be written): a directory, so that every user can open
# it. Another activation waits for it up to WAIT seconds; the kernel drops it
# when this script ends, however it ends. Under the lock, a deploy's lock
# (see deploy-lock-acquire) stops the activation.
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
wait=$2
lock="$root/run/lock"
[ -d "$lock" ] && [ -w "$lock" ] || lock="$root/tmp"
mkdir -p "$lock/nixctl" 2>/dev/null
command -v flock >/dev/null || { echo "flock is not installed on this host" >&2; exit 1; }
exec 9<"$lock/nixctl" || exit 1
flock -w "$wait" 9 || exit 75
dl="$root/var/lib/nixctl/deploy.lock"
if [ -e "$dl" ]; then
  { cat "$dl/info"; echo; } >&2 2>/dev/null
  exit 73
fi
case $3 in
generation)
  act="$4/activate"
  test -x "$act" || { echo "nixctl: $act is missing on this host" >&2; exit 66; }
  if [ -n "$5" ]; then
    HOME_MANAGER_BACKUP_EXT=$5
    export HOME_MANAGER_BACKUP_EXT
  fi
  "$act" 9<&-
  ;;
rollback)
  s="${XDG_STATE_HOME:-$HOME/.local/state}/nix/profiles"
  if [ -d "$s" ]; then p="$s/home-manager"; else p="$root/nix/var/nix/profiles/per-user/${USER:-$(id -un)}/home-manager"; fi
  nix-env -p "$p" --switch-generation "$5" 9<&- || exit 1
  if ! "$p-$5-link/activate" 9<&-; then
    nix-env -p "$p" --switch-generation "$4" 9<&-
    exit 70
  fi
  ;;
*)
  echo "home-activate: unknown mode $3" >&2
  exit 1
  ;;
esac
