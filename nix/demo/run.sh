#!/bin/sh
# Runs nixctl on the demo fleet copied to $DEMO_DIR (see `make demo`).
# Each step prints the command first, as a user would type it.
set -u
cd "$DEMO_DIR" || exit 1
bold='' reset=''
if [ -t 2 ] && [ -z "${NO_COLOR:-}" ]; then bold=$(printf '\033[1m') reset=$(printf '\033[0m'); fi
step() {
  printf '\n%s$ nixctl %s%s\n' "$bold" "$*" "$reset" >&2
  "$NIXCTL" "$@"
}
fail=0
step inventory list || fail=1
# A fleet of your own: the repository of the README, with a second server
# added. Writing files needs no network; evaluating it does (its inputs).
step init "$DEMO_DIR/myfleet" --user demo --host nixos-mini --address 192.0.2.20 || fail=1
step --flake "$DEMO_DIR/myfleet" host add nixos-node-2 --address 192.0.2.22 --tags cluster || fail=1
step --flake "$DEMO_DIR/myfleet" inventory check --no-eval || fail=1
# What a deploy of the cluster would run, host by host; it connects nowhere.
step deploy @cluster --dry-run --yes || fail=1

# Secrets need no nix and no network. They use a HOME inside the demo copy, so
# your own age key and sops settings are neither read nor touched.
secrets_demo() (
  export HOME="$DEMO_DIR/home" XDG_CONFIG_HOME="$DEMO_DIR/home/.config" XDG_STATE_HOME="$DEMO_DIR/home/.local/state" USER=demo
  unset SOPS_AGE_KEY SOPS_AGE_KEY_FILE SOPS_AGE_KEY_CMD SOPS_AGE_SSH_PRIVATE_KEY_FILE SOPS_AGE_SSH_PRIVATE_KEY_CMD
  mkdir -p "$HOME" && chmod 700 "$HOME"
  cat > "$DEMO_DIR/kubeconfig-demo.yaml" <<'KUBE'
apiVersion: v1
kind: Config
current-context: nixos-mini
clusters:
  - name: k0s
    cluster:
      server: https://192.0.2.20:6443
users:
  - name: admin
    user:
      token: demo-token-not-a-real-secret
KUBE
  step secrets init || return 1
  step secrets add kubeconfig --from "$DEMO_DIR/kubeconfig-demo.yaml" || return 1
  rm -f "$DEMO_DIR/kubeconfig-demo.yaml"
  step secrets list || return 1
  step secrets verify || return 1
)
secrets_demo || fail=1
if ! command -v nix >/dev/null 2>&1; then
  echo >&2
  echo "nix is not installed: the steps below need it and were skipped." >&2
  echo "Install it (Debian: apt-get install nix-bin, then enable flakes, see README) and run make demo again." >&2
  step inventory check --no-eval || fail=1
  exit $fail
fi
step inventory check || fail=1
step check || fail=1
# Home Manager profiles: both activation packages in one nix build, then the
# commands that would set up the server profile on nixos-mini from here.
step home build laptop server || fail=1
step --dry-run home switch server || fail=1
# What a pipeline runs (nixctl ci init writes it into a workflow): every
# stage, the demo's fake systems built offline in one nix build.
step ci --junit "$DEMO_DIR/nixctl-report.xml" || fail=1
exit $fail
