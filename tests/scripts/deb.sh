#!/bin/sh
# deb.sh - the Debian package (deploy/mkdeb.sh, what `make deb` runs over its hardened build of
# the same sources; here over QG_BIN, so the suite does not compile the tree twice), checked by
# lintian (no error, no warning), then installed with dpkg into a clean Debian 12 root this
# script builds (debootstrap --variant=minbase plus the package's Depends, nothing else):
#   - dpkg -i succeeds with its dependencies satisfied; `qorgau version` and
#     `qorgau config check -c /etc/qorgau/qorgau.conf` run from the installed files;
#   - the postinst created the system user qorgau, /var/lib/qorgau (0700, qorgau) and
#     /var/log/qorgau; the unit, the man pages and the samples are in place; a second install
#     (upgrade path, user already there) succeeds;
#   - dpkg -r removes the program but keeps the edited configuration, the orders and lists and
#     the order store; dpkg -P removes the conffile and keeps the orders and the store.
# The first run needs the Debian mirror (debootstrap: 45-100 s on a loaded 2-core machine); its
# downloads (build/debcache) and the finished root (build/debroot-*.tar) are kept, so later runs
# take seconds. Nothing is cached outside build/.
#
# Env: QG_BIN (default build/qorgau), QG_DEB_MIRROR (default http://deb.debian.org/debian).
# Needs root, dpkg-deb, dpkg-shlibdeps, lintian, debootstrap, chroot; without them it fails
# (QG_ALLOW_SKIP=1: exit 77).
set -u

QG_BIN=${QG_BIN:-build/qorgau}
root=$(cd "$(dirname "$0")/../.." && pwd)
case $QG_BIN in /*) ;; *) QG_BIN=$(pwd)/$QG_BIN ;; esac
. "$root/tests/lib/live.sh"
[ -x "$QG_BIN" ] || { echo "deb: $QG_BIN is not an executable (set QG_BIN)" >&2; exit 2; }
[ "$(id -u)" = 0 ] || qg_cannot_run deb "not root (debootstrap and chroot)"
for c in dpkg-deb dpkg-shlibdeps lintian debootstrap chroot; do
    command -v $c >/dev/null || qg_cannot_run deb "$c missing"
done
mirror=${QG_DEB_MIRROR:-http://deb.debian.org/debian}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/qg-deb.XXXXXX") || exit 2
croot=$tmp/root
cleanup() {
    mountpoint -q "$croot/proc" 2>/dev/null && umount "$croot/proc"
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 2' INT TERM

in_root() { chroot "$croot" "$@"; }

# ---- the package ----
if sh "$root/deploy/mkdeb.sh" "$QG_BIN" "$tmp/deb" >"$tmp/mkdeb.out" 2>&1; then
    pkg=$(tail -1 "$tmp/mkdeb.out")
    ok "deploy/mkdeb.sh built $(basename "$pkg")"
else
    ko "deploy/mkdeb.sh"; sed 's/^/    /' "$tmp/mkdeb.out"
    echo "deb: $pass passed, $fail failed"; exit 1
fi
lintian --pedantic "$pkg" >"$tmp/lintian" 2>&1
if ! grep -qE '^[EWP]: ' "$tmp/lintian"; then
    ok "lintian --pedantic: no error, warning or pedantic tag"
else
    ko "lintian"; grep -E '^[EWP]: ' "$tmp/lintian" | sed 's/^/    /'
fi
dpkg-deb -c "$pkg" | awk '{ print $NF }' >"$tmp/contents"
dpkg-deb --ctrl-tarfile "$pkg" | tar -xOf - ./conffiles >"$tmp/conffiles"
if grep -qx './usr/sbin/qorgau' "$tmp/contents" &&
    grep -qx './lib/systemd/system/qorgau.service' "$tmp/contents" &&
    grep -qx './usr/share/man/man8/qorgau.8.gz' "$tmp/contents" &&
    grep -qx './usr/share/man/man5/qorgau.conf.5.gz' "$tmp/contents" &&
    grep -qx './usr/share/qorgau/nftables-tproxy.nft' "$tmp/contents" &&
    grep -qx './usr/share/qorgau/sysctl-qorgau.conf' "$tmp/contents" &&
    grep -qx './usr/share/qorgau/iptables-queue.rules' "$tmp/contents" &&
    grep -qx './usr/share/qorgau/grafana-qorgau.json' "$tmp/contents" &&
    grep -qx './usr/share/qorgau/prometheus-qorgau-rules.yml' "$tmp/contents" &&
    grep -qx './etc/qorgau/qorgau.conf' "$tmp/contents" &&
    [ "$(dpkg-deb -f "$pkg" Depends | grep -c 'libc6 (>=')" = 1 ] &&
    grep -qx /etc/qorgau/qorgau.conf "$tmp/conffiles"; then
    ok "contents: binary, unit, man pages, samples, rule sets, dashboard, alerting rules; Depends from dpkg-shlibdeps; conffile"
else
    ko "package contents"; sed 's/^/    /' "$tmp/contents" "$tmp/conffiles" | head -40
fi
zcat "$tmp/deb/stage/usr/share/man/man5/qorgau.conf.5.gz" >"$tmp/conf5"
if readelf -S "$tmp/deb/stage/usr/sbin/qorgau" >"$tmp/sections" 2>&1 &&
    grep -q '\.text' "$tmp/sections" && ! grep -q '\.symtab\|\.debug_' "$tmp/sections" &&
    [ "$(grep -c '^\.TP$' "$tmp/conf5")" = \
        "$("$QG_BIN" config doc | grep -c '^| `')" ] &&
    grep -qx '\.B inline\.tproxy_port' "$tmp/conf5"; then
    ok "binary stripped; qorgau.conf(5) lists the keys of config doc"
else
    ko "binary not stripped or qorgau.conf(5) without the key list"
fi

# ---- a clean Debian 12 root with the package's dependencies ----
deps=$(dpkg-deb -f "$pkg" Depends | tr ',' '\n' | sed 's/(.*)//; s/[[:space:]]//g' | grep . | paste -sd, -)
# The root as debootstrap left it is kept as build/debroot-KEY.tar (KEY: the dependency list),
# so later runs unpack it in seconds instead of building it again.
key=$(printf '%s' "$deps" | md5sum | cut -c1-12)
snap=$root/build/debroot-$key.tar
mkdir -p "$root/build/debcache" "$croot"
t0=$(date +%s)
if [ -f "$snap" ] && tar -xf "$snap" -C "$croot"; then
    echo "deb: clean root unpacked from $snap in $(($(date +%s) - t0)) s"
else
    rm -rf "$croot"
    if ! debootstrap --variant=minbase --cache-dir="$root/build/debcache" --include="$deps" \
        bookworm "$croot" "$mirror" >"$tmp/debootstrap.log" 2>&1; then
        tail -5 "$tmp/debootstrap.log"
        qg_cannot_run deb "debootstrap bookworm from $mirror failed (network?)"
    fi
    echo "deb: clean root built by debootstrap in $(($(date +%s) - t0)) s"
    tar -cf "$snap.new" -C "$croot" . && mv "$snap.new" "$snap"
fi
mount -t proc proc "$croot/proc"
if in_root getent passwd qorgau >/dev/null; then
    ko "the clean root already has a qorgau user"
fi

# ---- install ----
cp "$pkg" "$croot/tmp/qorgau.deb"
if in_root dpkg -i /tmp/qorgau.deb >"$tmp/install" 2>&1; then
    ok "dpkg -i into the clean root (dependencies satisfied)"
else
    ko "dpkg -i"; sed 's/^/    /' "$tmp/install"
    echo "deb: $pass passed, $fail failed"; exit 1
fi
want=$("$QG_BIN" version)
if [ "$(in_root /usr/sbin/qorgau version 2>&1)" = "$want" ]; then
    ok "chroot: /usr/sbin/qorgau version -> $want"
else
    ko "chroot: qorgau version"; in_root /usr/sbin/qorgau version 2>&1 | sed 's/^/    /'
fi
if in_root /usr/sbin/qorgau config check -c /etc/qorgau/qorgau.conf >"$tmp/check" 2>&1 &&
    grep -qF 'qorgau: /etc/qorgau/qorgau.conf: ok' "$tmp/check"; then
    ok "chroot: qorgau config check -c /etc/qorgau/qorgau.conf -> ok"
else
    ko "chroot: config check"; sed 's/^/    /' "$tmp/check"
fi
if in_root getent passwd qorgau | grep -q ':/var/lib/qorgau:/usr/sbin/nologin$' &&
    [ "$(in_root stat -c '%U %a' /var/lib/qorgau)" = "qorgau 700" ] &&
    [ "$(in_root stat -c '%U %G' /var/log/qorgau)" = "qorgau adm" ] &&
    [ -d "$croot/etc/qorgau/orders" ] && [ -d "$croot/etc/qorgau/lists" ]; then
    ok "postinst: user qorgau (nologin, home /var/lib/qorgau), /var/lib/qorgau 0700, /var/log/qorgau, rule dirs"
else
    ko "postinst"; in_root getent passwd qorgau | sed 's/^/    /'; ls -ld "$croot/var/lib/qorgau" "$croot/var/log/qorgau" | sed 's/^/    /'
fi
if [ -f "$croot/lib/systemd/system/qorgau.service" ] &&
    grep -qx 'ExecStart=/usr/sbin/qorgau run -c /etc/qorgau/qorgau.conf' "$croot/lib/systemd/system/qorgau.service" &&
    [ ! -e "$croot/etc/systemd/system/multi-user.target.wants/qorgau.service" ]; then
    ok "unit installed with /usr/sbin paths, not enabled by the install"
else
    ko "unit"
fi
if in_root dpkg -i /tmp/qorgau.deb >"$tmp/install2" 2>&1; then
    ok "a second dpkg -i (user and directories already there)"
else
    ko "second dpkg -i"; sed 's/^/    /' "$tmp/install2"
fi

# ---- the operator's data survives remove, and orders and the store survive purge ----
echo "stats.interval = 30s" >>"$croot/etc/qorgau/qorgau.conf"
echo '{"id":"kept"}' >"$croot/etc/qorgau/orders/o.json"
echo 'example.com' >"$croot/etc/qorgau/lists/l.txt"
mkdir -p "$croot/var/lib/qorgau/orders"
echo '{}' >"$croot/var/lib/qorgau/orders/kept.json"
if in_root dpkg -r qorgau >"$tmp/remove" 2>&1 && [ ! -e "$croot/usr/sbin/qorgau" ] &&
    grep -qx 'stats.interval = 30s' "$croot/etc/qorgau/qorgau.conf" &&
    [ -f "$croot/etc/qorgau/orders/o.json" ] && [ -f "$croot/etc/qorgau/lists/l.txt" ] &&
    [ -f "$croot/var/lib/qorgau/orders/kept.json" ] && [ -d "$croot/var/log/qorgau" ] &&
    in_root getent passwd qorgau >/dev/null; then
    ok "dpkg -r: program gone; configuration, orders, lists, store, logs and user kept"
else
    ko "dpkg -r"; sed 's/^/    /' "$tmp/remove"; ls -R "$croot/etc/qorgau" | sed 's/^/    /'
fi
if in_root dpkg -P qorgau >"$tmp/purge" 2>&1 && [ ! -e "$croot/etc/qorgau/qorgau.conf" ] &&
    [ -f "$croot/etc/qorgau/orders/o.json" ] && [ -f "$croot/var/lib/qorgau/orders/kept.json" ] &&
    grep -qF 'orders, lists and the order store are kept' "$tmp/purge"; then
    ok "dpkg -P: conffile gone; orders and the store kept, and it says so"
else
    ko "dpkg -P"; sed 's/^/    /' "$tmp/purge"; ls -R "$croot/etc/qorgau" "$croot/var/lib/qorgau" 2>&1 | sed 's/^/    /'
fi

echo "deb: $pass passed, $fail failed"
[ $fail = 0 ]
