#!/bin/sh
# watchdog ROOT arm RUNID ACTION GENERATION SYSTEM WAIT CONFIRM < THIS-SCRIPT
# watchdog ROOT confirm RUNID
# watchdog ROOT run RUNID ACTION GENERATION SYSTEM WAIT CONFIRM
# Magic rollback. arm, before an activation, starts a watchdog that outlives
# the SSH session (a transient systemd unit nixctl-watchdog-RUNID when PID 1
# is systemd, else a detached process in a session of its own) and records it
# in ROOT/var/lib/nixctl/watchdog/armed. The watchdog waits for the
# activation to end (the running system or the system profile changed and no
# switch-to-configuration runs; at most WAIT seconds), then CONFIRM seconds
# more. Unless confirm (run by nixctl over a new SSH connection) came first,
# it switches back to what ran before: for ACTION switch, the system profile
# back to GENERATION and its switch-to-configuration switch, exactly as
# nixos-rebuild switch --rollback does; for ACTION test, the system profile's
# switch-to-configuration test. SYSTEM is /run/current-system before the
# activation. Whichever of confirm and the watchdog renames "armed" first
# wins, so the two never both act.
#
# arm exits 75 when another run's watchdog is pending (its record on stdout);
# confirm exits 70 when the watchdog has rolled back already (its record on
# stdout) and 66 when RUNID has no watchdog.
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
w="$root/var/lib/nixctl/watchdog"
prof="$root/nix/var/nix/profiles/system"
now() { date +%s; }

# activating: a switch-to-configuration runs on this host.
activating() {
  for f in /proc/[0-9]*/cmdline; do
    case $(tr '\000' ' ' <"$f" 2>/dev/null) in
    *switch-to-configuration*) return 0 ;;
    esac
  done
  return 1
}

armed_by() { grep -qx "runId=$1" "$w/armed" 2>/dev/null; }

case $2 in
arm)
  mkdir -p "$w" || exit 1
  if [ -e "$w/armed" ]; then
    cat "$w/armed"
    exit 75
  fi
  cat >"$w/watchdog.sh" || exit 1
  rm -f "$w/fired" "$w/confirmed" "$w/pid"
  {
    echo "runId=$3"
    echo "action=$4"
    echo "generation=$5"
    echo "system=$6"
    echo "armed=$(now)"
    echo "confirm=$8"
  } >"$w/armed.tmp" && mv "$w/armed.tmp" "$w/armed" || exit 1
  unit="nixctl-watchdog-$3"
  if command -v systemd-run >/dev/null 2>&1 && [ -d "$root/run/systemd/system" ]; then
    echo "unit=$unit" >>"$w/armed"
    systemd-run --unit "$unit" --description "nixctl magic rollback of run $3" --quiet \
      /bin/sh "$w/watchdog.sh" "$1" run "$3" "$4" "$5" "$6" "$7" "$8" || { rm -f "$w/armed"; exit 1; }
  else
    setsid nohup /bin/sh "$w/watchdog.sh" "$1" run "$3" "$4" "$5" "$6" "$7" "$8" </dev/null >>"$w/log" 2>&1 &
    echo "pid=$!" >>"$w/armed"
  fi
  exit 0
  ;;
confirm)
  if armed_by "$3" && mv "$w/armed" "$w/confirmed"; then
    unit=$(sed -n 's/^unit=//p' "$w/confirmed")
    pid=$(sed -n 's/^pid=//p' "$w/confirmed")
    if [ -n "$unit" ]; then
      systemctl stop "$unit" 2>/dev/null
    elif [ -n "$pid" ]; then
      kill "$pid" 2>/dev/null
      i=0
      while kill -0 "$pid" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
    fi
    exit 0
  fi
  if grep -qx "runId=$3" "$w/fired" 2>/dev/null; then
    cat "$w/fired"
    exit 70
  fi
  exit 66
  ;;
run)
  start=$(now)
  while :; do
    armed_by "$3" || exit 0
    changed=
    if [ "$(readlink "$root/run/current-system" 2>/dev/null)" != "$6" ] || [ "$(readlink "$prof" 2>/dev/null)" != "system-$5-link" ]; then
      changed=1
    fi
    if [ -n "$changed" ] && ! activating; then break; fi
    if [ $(($(now) - start)) -ge "$7" ]; then
      [ -n "$changed" ] && break
      # Nothing was activated: nothing to undo.
      mv "$w/armed" "$w/confirmed" 2>/dev/null
      exit 0
    fi
    sleep 1
  done
  end=$(($(now) + $8))
  while [ "$(now)" -lt "$end" ]; do
    armed_by "$3" || exit 0
    sleep 1
  done
  armed_by "$3" && mv "$w/armed" "$w/fired" || exit 0
  echo "fired=$(now)" >>"$w/fired"
  echo "nixctl: run $3 was not confirmed within $8s: rolling back ($4)"
  case $4 in
  switch) nix-env -p "$prof" --switch-generation "$5" && "$prof/bin/switch-to-configuration" switch ;;
  *) "$prof/bin/switch-to-configuration" test ;;
  esac
  echo "result=$?" >>"$w/fired"
  ;;
*)
  echo "watchdog: unknown mode $2" >&2
  exit 1
  ;;
esac
