#!/bin/sh
# build.sh BUILD: the hsmcache .deb (make deb). Stages `make install
# PREFIX=/usr` of BUILD's binaries, adds the package's documents and
# scripts/deb's metadata (control with Depends computed by dpkg-shlibdeps,
# conffiles, maintainer scripts), and packs it with dpkg-deb. No debhelper:
# the tree is built already. Output: BUILD/hsmcache_VERSION_ARCH.deb.
set -eu

build=${1:?usage: build.sh BUILD}
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
case $build in /*) ;; *) build=$top/$build ;; esac
for tool in dpkg-deb dpkg-shlibdeps dpkg-parsechangelog; do
    command -v "$tool" >/dev/null || { echo "build.sh: $tool missing (apt-get install dpkg-dev)" >&2; exit 1; }
done

version=$(dpkg-parsechangelog -l "$here/changelog" -S Version)
arch=$(dpkg --print-architecture)
# dpkg-shlibdeps wants a debian/ tree: debian/control names the package,
# debian/hsmcache is its root (so libhsmcache.so there counts as its own).
work=$build/deb
root=$work/debian/hsmcache
rm -rf "$work"
mkdir -p "$root/DEBIAN"
# -o all: install what BUILD holds; `make deb` built it.
make -s -C "$top" -o all install DESTDIR="$root" PREFIX=/usr BUILD="$build" >/dev/null
libdir=$root/usr/lib/$(${CC:-cc} -print-multiarch)/hsmcache

# Stripped as dh_strip does (no -dbgsym package: build/ keeps the symbols).
find "$root/usr/lib" -type f -name '*.so' -exec strip --remove-section=.comment \
    --remove-section=.note --strip-unneeded {} +
for exe in hsmcache hsmcached pdns-hsm; do
    strip --remove-section=.comment --remove-section=.note \
        "$libdir/$exe"
done

doc=$root/usr/share/doc/hsmcache
install -d -m 0755 "$doc"
install -m 0644 "$here/copyright" "$doc/copyright"
gzip -9n < "$here/changelog" > "$doc/changelog.Debian.gz"
gzip -9n < "$top/README.md" > "$doc/README.md.gz"
chmod 0644 "$doc"/*.gz
install -d -m 0755 "$root/usr/share/lintian/overrides"
install -m 0644 "$here/lintian-overrides" "$root/usr/share/lintian/overrides/hsmcache"

printf 'Source: hsmcache\n\nPackage: hsmcache\nArchitecture: any\n' > "$work/debian/control"
elfs=$(find "$root/usr" -type f \( -name '*.so' -o -perm -0100 \) -exec sh -c \
    'head -c 4 "$1" | grep -q ELF' _ {} \; -print)
# shellcheck disable=SC2086
depends=$(cd "$work" && dpkg-shlibdeps -O -l"$libdir" \
    $elfs 2>"$work/shlibdeps.err" | sed -n 's/^shlibs:Depends=//p')
if [ -z "$depends" ]; then
    echo "build.sh: dpkg-shlibdeps gave no Depends:" >&2
    cat "$work/shlibdeps.err" >&2
    exit 1
fi
# dpkg-shlibdeps finds the libraries the files link; the postinst makes
# the user and directories with these (virtual: systemd or standalone).
depends="$depends, systemd-sysusers, systemd-tmpfiles"

size=$(du -k -s --exclude=DEBIAN "$root" | cut -f1)
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s/@SIZE@/$size/" \
    -e "s/@DEPENDS@/$depends/" "$here/control.in" > "$root/DEBIAN/control"
install -m 0644 "$here/conffiles" "$root/DEBIAN/conffiles"
for s in postinst prerm postrm; do install -m 0755 "$here/$s" "$root/DEBIAN/$s"; done
(cd "$root" && find usr etc -type f ! -path 'etc/*' -print0 | sort -z | xargs -0 md5sum) \
    > "$root/DEBIAN/md5sums"
chmod 0644 "$root/DEBIAN/md5sums"

deb=$build/hsmcache_${version}_$arch.deb
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
echo "$deb"
