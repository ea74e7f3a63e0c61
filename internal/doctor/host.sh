#!/bin/sh
# nixctl doctor, run on a host of the inventory over SSH. It changes nothing.
#   $1  sudo | nosudo   whether the inventory says nixctl elevates with sudo
#   $2  a flag nixos-rebuild does not know: how it refuses it tells the
#       bash script from nixos-rebuild-ng
# Prints key=value lines; nixctl reads them (doctor/hosts.go). Exit 0 unless
# the arguments are wrong (64).
set -u
[ $# -eq 2 ] || { echo "usage: host.sh sudo|nosudo --probe-flag" >&2; exit 64; }
case $1 in sudo | nosudo) ;; *) echo "bad sudo mode: $1" >&2; exit 64 ;; esac
case $2 in --[a-z]*) ;; *) echo "bad probe flag: $2" >&2; exit 64 ;; esac

if command -v nix >/dev/null 2>&1; then
  echo "nix=$(command -v nix)"
  echo "nix_version=$(nix --version 2>&1 | head -n 1)"
else
  echo "nix="
fi

if [ "$1" = sudo ]; then
  if out=$(sudo -n true 2>&1); then
    echo "sudo=ok"
  else
    echo "sudo=fail"
    printf '%s\n' "$out" | tail -n 1 | sed 's/^/sudo_error=/'
  fi
fi

if command -v nixos-rebuild >/dev/null 2>&1; then
  echo "rebuild=$(command -v nixos-rebuild)"
  out=$(nixos-rebuild "$2" 2>&1 </dev/null)
  echo "rebuild_exit=$?"
  printf '%s\n' "$out" | head -n 5 | sed 's/^/rebuild_output=/'
else
  echo "rebuild="
fi

# Available KiB on the file system holding the store (df -P: POSIX columns).
echo "nix_free_kib=$(df -Pk /nix 2>/dev/null | awk 'NR == 2 { print $4 }')"
