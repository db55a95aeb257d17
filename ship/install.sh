#!/bin/sh
# Halton Meter's install script for macOS and Linux:
#
#   curl -fsSL <release>/install.sh | sh -s -- [init flags]
#
# downloads the binary for this machine from a release, checks it against the release's SHA256SUMS, puts it in
# a folder on the PATH, writes the channel marker beside it (so `halton-meter --version` and `doctor` can say
# how it was installed), and runs `halton-meter init` with the flags given.
#
# Settings (environment):
#   HALTON_METER_VERSION      release to install, e.g. 0.2.0 (default: the latest)
#   HALTON_METER_BASE_URL     where releases live (default: the project's GitHub releases); the files are
#                             fetched from <base>/v<version>/ or, for the latest, <base>/latest/ (GitHub
#                             itself serves the latest at releases/latest/download/)
#   HALTON_METER_INSTALL_DIR  folder for the binary (default: ~/.local/bin)
#   HALTON_METER_NO_MODIFY_PATH=1  never add the folder to ~/.profile
#   HALTON_METER_NO_INIT=1    install only; do not run init
#   HALTON_METER_CONNECT_TIMEOUT  seconds to wait for a connection (default 30)
#   HALTON_METER_STALL_TIMEOUT    seconds a download may go (nearly) without data before it is given up
#                                 (default 60)
#
# Exit codes: 0 installed (and init succeeded), 1 download (including one given up as stalled) or install
# failed, 2 unsupported machine or bad settings, 5 checksum mismatch; otherwise init's own exit code.
set -eu

GITHUB_RELEASES=https://github.com/haltonlabs/halton-meter/releases
BASE_URL=${HALTON_METER_BASE_URL:-$GITHUB_RELEASES/download}
VERSION=${HALTON_METER_VERSION:-latest}
INSTALL_DIR=${HALTON_METER_INSTALL_DIR:-$HOME/.local/bin}
# Without limits a stalled mirror or network hangs an unattended install forever. A stall, not a total time, is
# what is limited: the ~100 MB binary may take long on a slow link that still moves.
CONNECT_TIMEOUT=${HALTON_METER_CONNECT_TIMEOUT:-30}
STALL_TIMEOUT=${HALTON_METER_STALL_TIMEOUT:-60}

say() { printf 'halton-meter install: %s\n' "$*" >&2; }
fail() {
  code=$1
  shift
  say "$*"
  exit "$code"
}

target() {
  os=$(uname -s)
  arch=$(uname -m)
  case "$arch" in
    x86_64 | amd64) arch=x86_64 ;;
    arm64 | aarch64) arch=aarch64 ;;
    *) fail 2 "unsupported processor '$arch' (x86_64 and arm64 are built)" ;;
  esac
  case "$os" in
    Linux) echo "$arch-unknown-linux-gnu" ;;
    Darwin) echo "$arch-apple-darwin" ;;
    *) fail 2 "unsupported system '$os': on Windows use install.ps1" ;;
  esac
}

# Fetches $1 into $2, or stops the install saying why. wget (GNU or BusyBox) has one limit for connecting and
# reading, and tells no timeout apart from other network failures.
download() {
  status=0
  if command -v curl >/dev/null 2>&1; then
    curl -fsSL --retry 2 --connect-timeout "$CONNECT_TIMEOUT" --speed-limit 1024 --speed-time "$STALL_TIMEOUT" \
      -o "$2" "$1" || status=$?
  elif command -v wget >/dev/null 2>&1; then
    wget -q -t 3 -T "$STALL_TIMEOUT" -O "$2" "$1" || status=$?
  else
    fail 1 "neither curl nor wget is installed"
  fi
  case $status in
    0) ;;
    28) fail 1 "timed out downloading $1 (no connection in ${CONNECT_TIMEOUT}s, or under 1 KB/s for ${STALL_TIMEOUT}s): check the network and the mirror, then run again; HALTON_METER_CONNECT_TIMEOUT and HALTON_METER_STALL_TIMEOUT raise the limits" ;;
    *) fail 1 "could not download $1" ;;
  esac
}

# Stops unless $2 is whole seconds from 1 to 999999, as install.ps1 takes them too: curl's --speed-time takes
# whole seconds only, and 0 would mean no limit.
seconds() {
  case "$2" in
    '' | *[!0-9]* | 0* | ???????*) fail 2 "$1='$2' is not a whole number of seconds from 1 to 999999, such as 60" ;;
  esac
}

sha256() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum "$1" | cut -d' ' -f1
  elif command -v shasum >/dev/null 2>&1; then
    shasum -a 256 "$1" | cut -d' ' -f1
  else
    fail 1 "neither sha256sum nor shasum is installed: cannot check the download"
  fi
}

case "$VERSION" in
  latest)
    if [ -n "${HALTON_METER_BASE_URL:-}" ]; then RELEASE_URL="$BASE_URL/latest"; else RELEASE_URL="$GITHUB_RELEASES/latest/download"; fi
    ;;
  v*) RELEASE_URL="$BASE_URL/$VERSION" ;;
  [0-9]*) RELEASE_URL="$BASE_URL/v$VERSION" ;;
  *) fail 2 "HALTON_METER_VERSION='$VERSION' is not a version such as 0.2.0" ;;
esac
seconds HALTON_METER_CONNECT_TIMEOUT "$CONNECT_TIMEOUT"
seconds HALTON_METER_STALL_TIMEOUT "$STALL_TIMEOUT"

TARGET=$(target)
NAME="halton-meter-$TARGET"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
# Stopped (a fleet agent's timeout, Ctrl-C): stop, with the signal's exit code; the EXIT trap cleans up.
trap 'exit 130' INT
trap 'exit 143' TERM

say "downloading $NAME from $RELEASE_URL"
download "$RELEASE_URL/SHA256SUMS" "$WORK/SHA256SUMS"
download "$RELEASE_URL/$NAME" "$WORK/$NAME"

EXPECTED=$(awk -v n="$NAME" '$2 == n || $2 == "*" n { print $1 }' "$WORK/SHA256SUMS")
[ -n "$EXPECTED" ] || fail 5 "SHA256SUMS of $RELEASE_URL does not list $NAME"
ACTUAL=$(sha256 "$WORK/$NAME")
[ "$EXPECTED" = "$ACTUAL" ] || fail 5 "checksum mismatch for $NAME: expected $EXPECTED, got $ACTUAL; nothing was installed"
say "checksum ok ($ACTUAL)"

mkdir -p "$INSTALL_DIR" || fail 1 "cannot create $INSTALL_DIR"
chmod 755 "$WORK/$NAME"
# Moved in as a whole, so a running copy keeps its old file and a failed copy leaves the old binary in place.
cp "$WORK/$NAME" "$INSTALL_DIR/.halton-meter.new" || fail 1 "cannot write to $INSTALL_DIR"
mv -f "$INSTALL_DIR/.halton-meter.new" "$INSTALL_DIR/halton-meter"
printf '{"channel":"install-script","source":"%s"}\n' "$RELEASE_URL" >"$INSTALL_DIR/halton-meter.channel"
say "installed $INSTALL_DIR/halton-meter"

case ":$PATH:" in
  *":$INSTALL_DIR:"*) ;;
  *)
    if [ "${HALTON_METER_NO_MODIFY_PATH:-}" = 1 ]; then
      say "$INSTALL_DIR is not on your PATH: add it to use 'halton-meter' by name"
    else
      LINE="export PATH=\"$INSTALL_DIR:\$PATH\" # halton-meter"
      if ! grep -qxF "$LINE" "$HOME/.profile" 2>/dev/null; then
        printf '%s\n' "$LINE" >>"$HOME/.profile"
        say "added $INSTALL_DIR to PATH in ~/.profile (new shells)"
      fi
    fi
    PATH="$INSTALL_DIR:$PATH"
    export PATH
    ;;
esac

if [ "${HALTON_METER_NO_INIT:-}" = 1 ]; then
  say "not running init (HALTON_METER_NO_INIT=1): run 'halton-meter init' to finish"
  exit 0
fi
say "running: halton-meter init $*"
status=0
"$INSTALL_DIR/halton-meter" init "$@" || status=$?
exit "$status"
