#!/bin/sh
# Install every Debian package that building, testing, fuzzing and benchmarking Qorgau needs.
# Idempotent: packages already present are not touched; apt runs only when something is missing.
# Usage: deploy/install-deps.sh            (as root, or with sudo available)
set -eu

PKGS="build-essential pkg-config clang libclang-rt-14-dev clang-format-14 \
libpcap-dev check libsubunit-dev libcap-dev libidn2-dev libjansson-dev libssl-dev \
libnghttp2-dev libhiredis-dev libc-ares-dev liburcu-dev libmicrohttpd-dev libxml2-dev \
libndpi-bin tcpdump python3 time ethtool \
nftables nginx-light redis-server redis-sentinel iproute2 curl wget nghttp2-client openssl chromium haproxy libnginx-mod-stream \
freeradius-utils"

missing=""
for p in $PKGS; do
    if ! dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
        missing="$missing $p"
    fi
done

if [ -z "$missing" ]; then
    exit 0
fi

echo "install-deps: installing:$missing" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    else
        echo "install-deps: missing packages:$missing; run this script as root" >&2
        exit 1
    fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq || echo "install-deps: apt-get update failed; trying with cached lists" >&2
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
