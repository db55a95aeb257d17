#!/bin/sh
# Halton Meter's fleet rollout for macOS and Linux, for the tool an admin pushes scripts with (MDM, Ansible,
# Salt, ssh loops). Run it as the user the meter is for:
#
#   halton-meter-rollout.sh --version 0.2.0 [--base-url URL] [--install-dir DIR] [-- init flags]
#   halton-meter-rollout.sh --rollback [--install-dir DIR] [-- init flags]
#
# Installs the given version (checked against the release's SHA256SUMS), whether higher or lower than the one
# running (a pinned older version is how a fleet rolls back a release), runs
# `halton-meter init --non-interactive --json` and `halton-meter status --json`, and keeps the binary it
# replaced as halton-meter.previous. When the new binary fails that self-test, the previous one is put back and
# set up again. Safe to run again: a machine already healthy at the version is left untouched.
#
# Settings (environment): HALTON_METER_BASE_URL and HALTON_METER_INSTALL_DIR (what --base-url and --install-dir
# default to); HALTON_METER_CONNECT_TIMEOUT, seconds to wait for a connection (default 30), and
# HALTON_METER_STALL_TIMEOUT, seconds a download may go (nearly) without data before it is given up (default 60).
#
# Prints one JSON line on stdout, progress going to stderr:
#   {"result", "running": version installed now, "before": version before this run, "requested", "exit", "message"}
# with result one of:
#   installed    there was no binary before
#   upgraded     moved to a higher version, or
#   downgraded   to a lower one, the versions compared number by number (0.10.0 is above 0.9.0)
#   changed      moved between versions whose order is not known: either is not plain dotted numbers (a
#                pre-release such as 0.3.0-rc.1, a local build) or both are the same number (0.2 and 0.2.0)
#   unchanged    already healthy at the version
#   repaired     already at the version but unhealthy; init repaired it
#   rolled-back  --rollback swapped the previous binary in, or the new version failed its self-test (exit 6)
#   failed       exit 1, 5 or 7, or 2 on a machine no binary is built for
#   usage        exit 2
# Exit codes:
#   0  installed, upgraded, downgraded, changed, unchanged, repaired, or rolled back by --rollback
#   1  download failed or stalled, or another rollout of the same folder still ran after two minutes; nothing
#      changed
#   2  usage or bad settings
#   5  checksum mismatch; nothing changed
#   6  the new version failed its self-test and the previous one was put back and passes (rolled-back)
#   7  the machine needs a person: the self-test failed and there was nothing to roll back to, or the
#      rollback failed too
set -u

BASE_URL=${HALTON_METER_BASE_URL:-https://github.com/haltonlabs/halton-meter/releases/download}
INSTALL_DIR=${HALTON_METER_INSTALL_DIR:-$HOME/.local/bin}
# Without limits a stalled mirror or network hangs the fleet tool's run forever. A stall, not a total time, is
# what is limited: the ~100 MB binary may take long on a slow link that still moves.
CONNECT_TIMEOUT=${HALTON_METER_CONNECT_TIMEOUT:-30}
STALL_TIMEOUT=${HALTON_METER_STALL_TIMEOUT:-60}
VERSION=""
ROLLBACK=0
BIN=/nonexistent

# The version a binary reports, or nothing when it does not run.
version_of() {
  [ -x "$1" ] || return 0
  "$1" --version 2>/dev/null | awk 'NR == 1 { print $2 }'
}
say() { printf 'halton-meter rollout: %s\n' "$*" >&2; }
# A JSON string's content: backslash and quote escaped, control characters (a tab, a newline in an argument)
# made spaces, so the line stays one line of valid JSON.
json_str() { printf '%s' "$1" | tr '[:cntrl:]' ' ' | sed 's/\\/\\\\/g; s/"/\\"/g'; }
# The one line a fleet tool reads, then exit with its code.
finish() {
  printf '{"result":"%s","running":"%s","before":"%s","requested":"%s","exit":%s,"message":"%s"}\n' \
    "$1" "$(json_str "$(version_of "$BIN")")" "$(json_str "${PREVIOUS:-}")" "$(json_str "$VERSION")" "$2" "$(json_str "$3")"
  [ "$2" = 0 ] || say "$3"
  exit "$2"
}
usage() {
  say "usage: halton-meter-rollout.sh (--version X.Y.Z [--base-url URL] | --rollback) [--install-dir DIR] [-- init flags]"
  finish usage 2 "$1"
}

while [ $# -gt 0 ]; do
  case "$1" in
    --version) [ $# -ge 2 ] || usage "--version needs a value"; VERSION=${2#v}; shift 2 ;;
    --base-url) [ $# -ge 2 ] || usage "--base-url needs a value"; BASE_URL=$2; shift 2 ;;
    --install-dir) [ $# -ge 2 ] || usage "--install-dir needs a value"; INSTALL_DIR=$2; shift 2 ;;
    --rollback) ROLLBACK=1; shift ;;
    --) shift; break ;;
    -h | --help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0" >&2; exit 0 ;;
    *) usage "unknown argument '$1'" ;;
  esac
done
if [ "$ROLLBACK" = 1 ]; then
  [ -z "$VERSION" ] || usage "--rollback and --version exclude each other"
else
  case "$VERSION" in
    [0-9]*.[0-9]*.[0-9]*) ;;
    *) usage "--version X.Y.Z is required" ;;
  esac
fi
# Whole seconds from 1 to 999999, as the .ps1 twin takes them too: curl's --speed-time takes whole seconds
# only, and 0 would mean no limit.
for setting in "HALTON_METER_CONNECT_TIMEOUT=$CONNECT_TIMEOUT" "HALTON_METER_STALL_TIMEOUT=$STALL_TIMEOUT"; do
  case "${setting#*=}" in
    '' | *[!0-9]* | 0* | ???????*) finish usage 2 "${setting%%=*}='${setting#*=}' is not a whole number of seconds from 1 to 999999, such as 60" ;;
  esac
done

BIN="$INSTALL_DIR/halton-meter"
PREV="$INSTALL_DIR/halton-meter.previous"

# One rollout at a time for an install folder: two at once both replaced the binary and both kept a "previous",
# and could leave a failing version with nothing to roll back to. A lock left by a run that was killed (its pid
# gone) is taken over; a live one is waited for, two minutes at most.
LOCK="${TMPDIR:-/tmp}/halton-meter-rollout-$(id -u)-$(printf '%s' "$INSTALL_DIR" | cksum | cut -d' ' -f1).lock"
waited=0
while ! mkdir "$LOCK" 2>/dev/null; do
  holder=$(cat "$LOCK/pid" 2>/dev/null)
  if [ -n "$holder" ] && ! kill -0 "$holder" 2>/dev/null; then
    rm -rf "$LOCK"
    continue
  fi
  [ "$waited" -lt 120 ] || finish failed 1 "another rollout (pid ${holder:-unknown}) is still running; nothing changed"
  [ "$waited" -gt 0 ] || say "waiting for another rollout (pid ${holder:-unknown}) to finish"
  waited=$((waited + 1))
  sleep 1
done
echo $$ >"$LOCK/pid"
trap 'rm -rf "$LOCK"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# init then status with `$1`, the init flags after them; 0 when both pass.
self_test() {
  say "self-test: $1 init --non-interactive --json $*"
  bin=$1
  shift
  "$bin" init --non-interactive --json "$@" >&2 || return 1
  "$bin" status --json >&2 || return 1
}

# Fetches $1 into $2, or finishes with the reason and nothing changed. wget (GNU or BusyBox) has one limit for
# connecting and reading, and tells no timeout apart from other network failures.
download() {
  status=0
  if command -v curl >/dev/null 2>&1; then
    curl -fsSL --retry 2 --connect-timeout "$CONNECT_TIMEOUT" --speed-limit 1024 --speed-time "$STALL_TIMEOUT" \
      -o "$2" "$1" || status=$?
  else
    wget -q -t 3 -T "$STALL_TIMEOUT" -O "$2" "$1" || status=$?
  fi
  case $status in
    0) ;;
    28) finish failed 1 "timed out downloading $1 (no connection in ${CONNECT_TIMEOUT}s, or under 1 KB/s for ${STALL_TIMEOUT}s); nothing changed: check the network and the mirror, then run again; HALTON_METER_CONNECT_TIMEOUT and HALTON_METER_STALL_TIMEOUT raise the limits" ;;
    *) finish failed 1 "could not download $1; nothing changed" ;;
  esac
}

# The result for a move from version $1 to $2 (see the header). A pre-release's or a local build's place among
# releases is not known here, so those are "changed" rather than a guess; a missing number counts as 0.
change() {
  awk -v from="$1" -v to="$2" 'BEGIN {
    if (from !~ /^[0-9]+(\.[0-9]+)*$/ || to !~ /^[0-9]+(\.[0-9]+)*$/) { print "changed"; exit }
    n = split(from, f, "."); m = split(to, t, "."); if (m > n) n = m
    for (i = 1; i <= n; i++) if (f[i] + 0 != t[i] + 0) { print (t[i] + 0 > f[i] + 0 ? "upgraded" : "downgraded"); exit }
    print "changed"
  }'
}

sha256() {
  if command -v sha256sum >/dev/null 2>&1; then sha256sum "$1" | cut -d' ' -f1; else shasum -a 256 "$1" | cut -d' ' -f1; fi
}

mark() {
  printf '{"channel":"fleet","source":"%s"}\n' "$(json_str "$1")" >"$INSTALL_DIR/halton-meter.channel"
}

PREVIOUS=$(version_of "$BIN")

if [ "$ROLLBACK" = 1 ]; then
  [ -x "$PREV" ] || finish failed 7 "no previous binary at $PREV to roll back to"
  VERSION=$(version_of "$PREV")
  # Swapped, so that running --rollback again returns to the version rolled back from.
  if ! { mv -f "$PREV" "$BIN.rolling" && { [ ! -e "$BIN" ] || mv -f "$BIN" "$PREV"; } && mv -f "$BIN.rolling" "$BIN"; }; then
    finish failed 7 "could not swap $PREV back in"
  fi
  # The marker names the binary now in place, for `status` and `doctor`'s upgrade and rollback commands.
  mark "$BASE_URL/v$VERSION"
  self_test "$BIN" "$@" || finish failed 7 "rolled back to $VERSION, but its self-test fails"
  finish rolled-back 0 "rolled back from $PREVIOUS to $VERSION"
fi

if [ "$PREVIOUS" = "$VERSION" ]; then
  if "$BIN" status --json >/dev/null 2>&1; then finish unchanged 0 "already healthy at $VERSION"; fi
  self_test "$BIN" "$@" || finish failed 7 "$VERSION is installed but its self-test fails"
  finish repaired 0 "$VERSION was installed but unhealthy; init repaired it"
fi

case "$(uname -s)" in Linux) os=unknown-linux-gnu ;; Darwin) os=apple-darwin ;; *) finish failed 2 "unsupported system $(uname -s)" ;; esac
case "$(uname -m)" in x86_64 | amd64) arch=x86_64 ;; arm64 | aarch64) arch=aarch64 ;; *) finish failed 2 "unsupported processor $(uname -m)" ;; esac
NAME="halton-meter-$arch-$os"
RELEASE_URL="$BASE_URL/v$VERSION"
WORK=$(mktemp -d)
# Stopped (the fleet tool's timeout): the signal's exit code, and no success line (the traps above).
trap 'rm -rf "$WORK" "$LOCK"' EXIT

say "downloading $NAME $VERSION from $RELEASE_URL"
download "$RELEASE_URL/SHA256SUMS" "$WORK/SHA256SUMS"
download "$RELEASE_URL/$NAME" "$WORK/$NAME"
EXPECTED=$(awk -v n="$NAME" '$2 == n || $2 == "*" n { print $1 }' "$WORK/SHA256SUMS")
ACTUAL=$(sha256 "$WORK/$NAME")
if [ -z "$EXPECTED" ] || [ "$EXPECTED" != "$ACTUAL" ]; then
  finish failed 5 "checksum mismatch for $NAME $VERSION (expected ${EXPECTED:-nothing listed}, got $ACTUAL); nothing changed"
fi

mkdir -p "$INSTALL_DIR" || finish failed 1 "cannot create $INSTALL_DIR"
chmod 755 "$WORK/$NAME"
cp "$WORK/$NAME" "$BIN.new" || finish failed 1 "cannot write to $INSTALL_DIR"
if [ -x "$BIN" ]; then
  cp -p "$BIN" "$PREV" || finish failed 1 "cannot keep the previous binary as $PREV; nothing changed"
fi
mv -f "$BIN.new" "$BIN"
mark "$RELEASE_URL"

if [ "$(version_of "$BIN")" = "$VERSION" ] && self_test "$BIN" "$@"; then
  if [ -n "$PREVIOUS" ]; then
    how=$(change "$PREVIOUS" "$VERSION")
    finish "$how" 0 "$how from $PREVIOUS to $VERSION"
  fi
  finish installed 0 "installed $VERSION"
fi

if [ -z "$PREVIOUS" ] || [ ! -x "$PREV" ]; then
  finish failed 7 "$VERSION failed its self-test and there is no previous binary to roll back to"
fi
say "$VERSION failed its self-test: rolling back to $PREVIOUS"
cp -p "$BIN" "$INSTALL_DIR/halton-meter.failed" 2>/dev/null
mv -f "$PREV" "$BIN" || finish failed 7 "$VERSION failed its self-test and $PREV could not be put back"
mark "$BASE_URL/v$PREVIOUS"
self_test "$BIN" "$@" || finish failed 7 "$VERSION failed its self-test, and so does $PREVIOUS after the rollback"
finish rolled-back 6 "$VERSION failed its self-test; $PREVIOUS was put back and passes"
