#!/bin/sh
# Install every Debian package that building, testing, fuzzing and benchmarking Qorgau needs.
# Idempotent: packages already present are not touched; apt runs only when something is missing.
# Usage: deploy/install-deps.sh            (as root, or with sudo available)
#        deploy/install-deps.sh --bench    also the peers `make bench` measures against
#   Suricata is not in Debian 12's main suite; --bench takes it from Debian's own
#   bookworm-backports suite (deb.debian.org), which it adds to apt's sources when missing.
set -eu

PKGS="build-essential pkg-config clang libclang-rt-14-dev clang-format-14 \
libpcap-dev check libsubunit-dev libcap-dev libidn2-dev libjansson-dev libssl-dev nettle-dev \
libnghttp2-dev libhiredis-dev libc-ares-dev liburcu-dev libmicrohttpd-dev libgnutls28-dev libexpat1-dev \
libnetfilter-queue-dev libmnl-dev libxxhash-dev libnftables-dev \
libndpi-bin tcpdump python3 time ethtool \
nftables iptables nginx-light redis-server redis-sentinel iproute2 curl wget nghttp2-client openssl chromium haproxy libnginx-mod-stream \
freeradius-utils tcpreplay dpkg-dev fakeroot lintian debootstrap systemd man-db prometheus"
BENCH_PKGS="suricata"

bench=0
[ "${1:-}" = "--bench" ] && bench=1

installed() {
    dpkg-query -W -f='${Status}\n' "$1" 2>/dev/null | grep -q '^install ok installed$'
}

missing=""
for p in $PKGS; do
    installed "$p" || missing="$missing $p"
done
bench_missing=""
if [ $bench = 1 ]; then
    for p in $BENCH_PKGS; do
        installed "$p" || bench_missing="$bench_missing $p"
    done
fi

if [ -z "$missing" ] && [ -z "$bench_missing" ]; then
    exit 0
fi

echo "install-deps: installing:$missing$bench_missing" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    else
        echo "install-deps: missing packages:$missing$bench_missing; run this script as root" >&2
        exit 1
    fi
fi
export DEBIAN_FRONTEND=noninteractive
if [ -n "$bench_missing" ] && ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    echo "install-deps: adding Debian's bookworm-backports suite (suricata)" >&2
    printf 'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' |
        $SUDO tee /etc/apt/sources.list.d/qorgau-backports.sources >/dev/null
fi
$SUDO apt-get update -qq || echo "install-deps: apt-get update failed; trying with cached lists" >&2
if [ -n "$missing" ]; then
    # promtool (the alerting rules' checks, tests/scripts/dashboard.sh) comes with Debian's
    # prometheus package; its server is not wanted on a build machine: masked before the
    # install where systemd runs, so that it is never started
    case " $missing " in
    *" prometheus "*)
        if [ -d /run/systemd/system ]; then
            $SUDO systemctl mask prometheus.service >/dev/null 2>&1 || true
        fi
        ;;
    esac
    # shellcheck disable=SC2086
    $SUDO apt-get install -y -qq --no-install-recommends $missing
fi
if [ -n "$bench_missing" ]; then
    # shellcheck disable=SC2086
    $SUDO apt-get install -y -qq --no-install-recommends -t bookworm-backports $bench_missing
fi
