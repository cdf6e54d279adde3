#!/bin/sh
# mkdeb.sh - builds the Debian package of qorgau into OUTDIR (`make deb`): a staged tree and
# DEBIAN/ made from deploy/debian/ (control with Depends: computed by dpkg-shlibdeps, plus
# libmicrohttpd12, libgnutls30, libpcap0.8, libssl3 (libcrypto), libnetfilter-queue1, libmnl0
# and libnftables1 written in control.in: the binary loads them with dlopen(3) when a server
# starts, a capture needs libpcap, a signature is checked or made, queue mode opens a queue or
# the kernel drop of IP entries is set up, proxy/daemon/mhdlib.h, proxy/capture/pcaplib.h,
# rules/orders/cryptolib.h, proxy/capture/nfqlib.h and proxy/enforce/nftlib.h, so they are not
# among its NEEDED entries; the
# maintainer scripts, conffiles, md5sums), packed by dpkg-deb as root:root files. The binary is
# stripped; the man pages come from deploy/mkman.sh.
# usage: deploy/mkdeb.sh QORGAU_BINARY OUTDIR
# Prints the path of the .deb.
set -eu
bin=$1 out=$2
src=$(cd "$(dirname "$0")/.." && pwd)
deb=$src/deploy/debian
case $out in /*) ;; *) out=$(pwd)/$out ;; esac
stage=$out/stage
rm -rf "$stage" "$out/shlibs"
mkdir -p "$stage/DEBIAN"

upver=$("$bin" version | sed 's/^qorgau //')
ver=$upver-1
arch=$(dpkg --print-architecture)

# the program, stripped as dh_strip does
install -D -m 0755 "$bin" "$stage/usr/sbin/qorgau"
strip --strip-unneeded --remove-section=.comment --remove-section=.note "$stage/usr/sbin/qorgau"

# the unit, the configuration (a conffile), the samples
install -D -m 0644 "$src/deploy/qorgau.service" "$stage/lib/systemd/system/qorgau.service"
install -D -m 0644 "$src/deploy/qorgau.conf" "$stage/etc/qorgau/qorgau.conf"
for f in "$src/deploy/sysctl-qorgau.conf" "$src/deploy/iptables-queue.rules" \
    "$src/deploy/grafana-qorgau.json" "$src/deploy/prometheus-qorgau-rules.yml" "$src"/deploy/samples/*; do
    install -D -m 0644 "$f" "$stage/usr/share/qorgau/$(basename "$f")"
done
# the rulesets are nft scripts (#!/usr/sbin/nft -f): executable, as lintian wants
for f in "$src"/deploy/nftables-*.nft; do
    install -m 0755 "$f" "$stage/usr/share/qorgau/$(basename "$f")"
done
install -D -m 0644 "$deb/lintian-overrides" "$stage/usr/share/lintian/overrides/qorgau"

# manual pages
sh "$src/deploy/mkman.sh" "$bin" "$out/man"
install -d "$stage/usr/share/man/man8" "$stage/usr/share/man/man5"
gzip -9n -c "$out/man/qorgau.8" >"$stage/usr/share/man/man8/qorgau.8.gz"
gzip -9n -c "$out/man/qorgau.conf.5" >"$stage/usr/share/man/man5/qorgau.conf.5.gz"

# documentation: README and docs/*.md as they are (the unit's Documentation= links deploy.md)
doc=$stage/usr/share/doc/qorgau
install -D -m 0644 "$src/README.md" "$doc/README.md"
for f in "$src"/docs/*.md; do
    install -m 0644 "$f" "$doc/$(basename "$f")"
done
install -m 0644 "$deb/copyright" "$doc/copyright"
sed "s/@VERSION@/$ver/" "$deb/changelog" | gzip -9n >"$doc/changelog.Debian.gz"
chmod 0644 "$doc/changelog.Debian.gz"

# DEBIAN/: shared-library dependencies, scripts, conffiles, md5sums
mkdir -p "$out/shlibs/debian"
printf 'Source: qorgau\n\nPackage: qorgau\nArchitecture: any\n' >"$out/shlibs/debian/control"
deps=$(cd "$out/shlibs" && dpkg-shlibdeps -O "$stage/usr/sbin/qorgau" 2>"$out/shlibs/err" |
    sed -n 's/^shlibs:Depends=//p') || true
if [ -z "$deps" ]; then
    echo "mkdeb: dpkg-shlibdeps found no dependencies:" >&2
    cat "$out/shlibs/err" >&2
    exit 1
fi
rm -rf "$out/shlibs"
size=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
sed -e "s/@VERSION@/$ver/" -e "s/@ARCH@/$arch/" -e "s/@SIZE@/$size/" -e "s/@DEPENDS@/$deps/" \
    "$deb/control.in" >"$stage/DEBIAN/control"
for s in postinst prerm postrm; do
    install -m 0755 "$deb/$s" "$stage/DEBIAN/$s"
done
echo /etc/qorgau/qorgau.conf >"$stage/DEBIAN/conffiles"
chmod 0644 "$stage/DEBIAN/control" "$stage/DEBIAN/conffiles"
(cd "$stage" && find . -path ./DEBIAN -prune -o -path ./etc -prune -o -type f -print |
    sed 's#^\./##' | LC_ALL=C sort | xargs md5sum) >"$stage/DEBIAN/md5sums"
chmod 0644 "$stage/DEBIAN/md5sums"

# directories 0755, files as installed above, whatever the umask of the build
find "$stage" -type d -exec chmod 0755 {} +
pkg=$out/qorgau_${ver}_$arch.deb
rm -f "$out"/qorgau_*.deb
dpkg-deb --root-owner-group -Zxz --build "$stage" "$pkg" >/dev/null
echo "$pkg"
