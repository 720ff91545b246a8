#!/usr/bin/env bash
# Install the system packages lastcall's tests and CI need on a fresh Debian 12
# (bookworm) machine, as root:
#   postgresql-15 postgresql-server-dev-15 dpkg-dev build-essential prometheus
#   chromium tini
# plus pgvector, built from Debian trixie's source package against PostgreSQL 15
# (bookworm has no pgvector package).
#
# Idempotent: packages already installed and an existing
# /usr/lib/postgresql/15/lib/vector.so are skipped; when nothing is missing the
# script does not even run `apt-get update`.
#
# No service is started: a policy-rc.d that denies starts is in place during the
# install, and if the postgresql package created its default "15/main" cluster it
# is left (or put) stopped. Tests run their own throwaway clusters
# (scripts/pg/start.sh).
#
# Output: one line per step; full log in $LASTCALL_INSTALL_LOG
# (default /tmp/lastcall-install-system.log); its tail is printed on failure.
set -euo pipefail

PG_MAJOR=15
PG_CONFIG="/usr/lib/postgresql/${PG_MAJOR}/bin/pg_config"
VECTOR_SO="/usr/lib/postgresql/${PG_MAJOR}/lib/vector.so"
PACKAGES=(postgresql-${PG_MAJOR} postgresql-server-dev-${PG_MAJOR} dpkg-dev build-essential prometheus chromium tini)
SRC_LIST=/etc/apt/sources.list.d/lastcall-trixie-src.sources
LOG="${LASTCALL_INSTALL_LOG:-/tmp/lastcall-install-system.log}"

export DEBIAN_FRONTEND=noninteractive
APT_OPTS=(-y -q -o DPkg::Lock::Timeout=600 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)

T0=$(date +%s)
: >"$LOG"

step() { # step "description" cmd args...
  local desc=$1; shift
  local t; t=$(date +%s)
  printf '==> %s ... ' "$desc"
  echo "==> $desc: $*" >>"$LOG"
  if "$@" >>"$LOG" 2>&1; then
    echo "ok ($(( $(date +%s) - t ))s)"
  else
    local rc=$?
    echo "FAILED (exit $rc)"
    echo "---- last 40 lines of $LOG ----" >&2
    tail -n 40 "$LOG" >&2
    exit "$rc"
  fi
}

if [ "$(id -u)" -ne 0 ]; then
  echo "install-system.sh must run as root" >&2
  exit 1
fi
if ! grep -qs 'VERSION_CODENAME=bookworm' /etc/os-release; then
  echo "warning: this script targets Debian 12 (bookworm); found: $(. /etc/os-release && echo "${PRETTY_NAME:-unknown}")" >&2
fi

missing_packages() {
  local p
  for p in "${PACKAGES[@]}"; do
    if [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)" != "install ok installed" ]; then
      echo "$p"
    fi
  done
}

# The bookworm mirror this machine is configured with (deb822 *.sources or
# one-line sources.list entries); falls back to deb.debian.org.
detect_mirror() {
  local f uri=""
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -e "$f" ] || continue
    [ "$f" = "$SRC_LIST" ] && continue
    uri=$(awk '
      BEGIN { RS = ""; FS = "\n" }
      {
        uris = ""; suites = ""; enabled = 1
        for (i = 1; i <= NF; i++) {
          line = $i
          if (line ~ /^[ \t]*#/) continue
          if (tolower(line) ~ /^uris:/)    { sub(/^[^:]*:[ \t]*/, "", line); uris = line }
          if (tolower(line) ~ /^suites:/)  { sub(/^[^:]*:[ \t]*/, "", line); suites = " " line " " }
          if (tolower(line) ~ /^enabled:[ \t]*no/) enabled = 0
        }
        if (enabled && suites ~ / bookworm / && uris != "") { split(uris, u, /[ \t]+/); print u[1]; exit }
      }' "$f")
    [ -n "$uri" ] && break
  done
  if [ -z "$uri" ]; then
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
      [ -e "$f" ] || continue
      uri=$(sed -E -e 's/#.*//' -e 's/\[[^]]*\]//' "$f" \
        | awk '$1 == "deb" && $3 == "bookworm" { print $2; exit }')
      [ -n "$uri" ] && break
    done
  fi
  echo "${uri:-http://deb.debian.org/debian}"
}

write_trixie_src() {
  local mirror; mirror=$(detect_mirror)
  local keyring=/usr/share/keyrings/debian-archive-keyring.gpg
  # bookworm's debian-archive-keyring (2023.3+deb12u1 and later) ships the trixie keys.
  [ -e /usr/share/keyrings/debian-archive-trixie-stable.gpg ] || echo "warning: no trixie key in debian-archive-keyring; upgrade it" >&2
  cat >"$SRC_LIST".tmp <<EOF || return
# Added by lastcall scripts/ci/install-system.sh: source packages only (for pgvector).
# Binary packages still come from bookworm.
Types: deb-src
URIs: ${mirror}
Suites: trixie
Components: main
Signed-By: ${keyring}
EOF
  mv "$SRC_LIST".tmp "$SRC_LIST" || return
  echo "trixie deb-src via ${mirror} -> ${SRC_LIST}"
}

# Keep Debian's maintainer scripts from starting services (postgresql, prometheus)
# while we install; restore the previous state afterwards.
POLICY=/usr/sbin/policy-rc.d
POLICY_ADDED=0
cleanup() {
  if [ "$POLICY_ADDED" = 1 ]; then rm -f "$POLICY"; fi
  if [ -n "${BUILD_DIR:-}" ] && [ -d "$BUILD_DIR" ]; then rm -rf "$BUILD_DIR"; fi
}
trap cleanup EXIT
if [ ! -e "$POLICY" ]; then
  printf '#!/bin/sh\n# temporary, lastcall install-system.sh\nexit 101\n' >"$POLICY"
  chmod 755 "$POLICY"
  POLICY_ADDED=1
fi

stop_main_cluster() {
  # Debian's postgresql-15 postinst creates a "15/main" cluster on first install;
  # we don't use it. Make sure it is not running (it normally never started).
  if command -v pg_lsclusters >/dev/null 2>&1; then
    pg_lsclusters -h 2>/dev/null | while read -r ver name _port status _rest; do
      if [ "$status" = online ]; then
        echo "stopping $ver/$name"
        pg_ctlcluster "$ver" "$name" stop -m fast || true
      fi
    done
  fi
  return 0
}

# Note: functions run by step() are in an `if` context where `set -e` is
# ignored, so every command checks its status explicitly.
build_pgvector() {
  BUILD_DIR=$(mktemp -d /tmp/lastcall-pgvector.XXXXXX) || return
  chmod 755 "$BUILD_DIR" || return
  # Let apt download as its sandbox user instead of warning about root.
  if id _apt >/dev/null 2>&1; then chown _apt "$BUILD_DIR" || return; fi
  cd "$BUILD_DIR" || return
  apt-get "${APT_OPTS[@]}" source pgvector || return
  local src
  src=$(find "$BUILD_DIR" -mindepth 1 -maxdepth 1 -type d -name 'pgvector-*' | head -n1)
  [ -n "$src" ] || { echo "no pgvector source directory in $BUILD_DIR"; return 1; }
  cd "$src" || return
  # OPTFLAGS="" instead of pgvector's default -march=native, so the .so also works
  # if this machine's image is reused on a different CPU (same as Debian's build;
  # pgvector picks its SIMD paths at runtime).
  make -j"$(nproc)" PG_CONFIG="$PG_CONFIG" OPTFLAGS="" || return
  make install PG_CONFIG="$PG_CONFIG" OPTFLAGS="" || return
  cd / || return
  test -e "$VECTOR_SO"
}

mapfile -t MISSING < <(missing_packages)
NEED_VECTOR=0
[ -e "$VECTOR_SO" ] || NEED_VECTOR=1

if [ "${#MISSING[@]}" -eq 0 ] && [ "$NEED_VECTOR" = 0 ]; then
  echo "==> all packages and pgvector already installed; nothing to do"
  stop_main_cluster >>"$LOG" 2>&1
  exit 0
fi

if [ "$NEED_VECTOR" = 1 ]; then
  step "add trixie deb-src entry" write_trixie_src
fi
step "apt-get update" apt-get "${APT_OPTS[@]}" update
if [ "${#MISSING[@]}" -gt 0 ]; then
  step "apt-get install ${MISSING[*]}" apt-get "${APT_OPTS[@]}" install --no-install-recommends "${MISSING[@]}"
else
  echo "==> apt packages already installed"
fi
step "ensure no Debian-managed PostgreSQL cluster is running" stop_main_cluster
if [ "$NEED_VECTOR" = 1 ]; then
  step "build + install pgvector (trixie source) for PostgreSQL ${PG_MAJOR}" build_pgvector
else
  echo "==> pgvector already installed ($VECTOR_SO)"
fi
echo "==> done in $(( $(date +%s) - T0 ))s (log: $LOG)"
