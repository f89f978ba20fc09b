#!/bin/sh
# scripts/config-doc.sh: rewrites README.md's configuration table (between
# the config-keys markers) with `hsmcache config-keys`, which prints the
# parser's own table (shared/src/config_keys.c). Run after adding or
# changing a key; tests/integration/config_keys.sh fails until README
# agrees.   scripts/config-doc.sh [BUILD-DIR]
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/build}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$build/hsmcache" config-keys > "$tmp/table"
grep -q '^<!-- config-keys' "$top/README.md" || { echo "README.md has no config-keys marker" >&2; exit 1; }
awk -v table="$tmp/table" '
    /^<!-- config-keys/ { print; while ((getline l < table) > 0) print l; skip = 1; next }
    /^<!-- end config-keys -->/ { skip = 0 }
    !skip' "$top/README.md" > "$tmp/README.md"
cat "$tmp/README.md" > "$top/README.md"
