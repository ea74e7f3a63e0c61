#!/bin/sh
# kubeconfig-read ROOT SUDO KIND [ARG...]: print a cluster's admin kubeconfig
# on stdout, as the login user or, with SUDO=1, through sudo -n. KIND says
# where the host keeps it:
#   k0s-admin         k0s kubeconfig admin (what a k0s controller answers)
#   path FILE         the file ROOT/FILE; FILE is absolute
#   command WORD...   the command the user gave nixctl (--remote-command),
#                     run as its words: nixctl split it on the user's machine
#                     and each word arrives here as an argument of its own,
#                     so no shell parses it (a ';' or '$(...)' is only text)
# The read's process replaces this script, so a read that fails exits with
# its own code (cat's, k0s's, the command's, or sudo's 1 when sudo -n
# refuses) and says why on stderr; bad arguments exit 1. sudo is not tried
# with `true` first, as preflight does: a sudoers rule may allow this one
# read and nothing else.
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
usage() { echo "kubeconfig-read: $1 (usage: kubeconfig-read ROOT SUDO k0s-admin|path FILE|command WORD...)" >&2; exit 1; }
[ $# -ge 3 ] || usage "missing arguments"
root=${1%/} sudo=$2 kind=$3
shift 3
case $sudo in 0 | 1) ;; *) usage "SUDO is 0 or 1, not '$sudo'" ;; esac
case $kind in
  k0s-admin)
    [ $# -eq 0 ] || usage "k0s-admin takes no argument"
    set -- k0s kubeconfig admin ;;
  path)
    [ $# -eq 1 ] || usage "path takes one FILE"
    case $1 in /*) ;; *) usage "FILE '$1' is not absolute" ;; esac
    set -- cat -- "$root$1" ;;
  command)
    [ $# -ge 1 ] || usage "command takes its words"
    case $1 in -*) usage "the command starts with an option ($1), not a program" ;; esac ;;
  *) usage "unknown KIND '$kind'" ;;
esac
if [ "$sudo" = 1 ]; then
  exec sudo -n -- "$@"
fi
exec "$@"
