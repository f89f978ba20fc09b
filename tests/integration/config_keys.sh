#!/usr/bin/env bash
# README's configuration table is what `hsmcache config-keys` prints: the
# parser's own table of keys (shared/src/config_keys.c: section, key,
# parser, default, meaning), so README cannot list a key the parser does
# not take, miss one it takes, or show another default. After changing
# a key: scripts/config-doc.sh rewrites README's table. And hsmcache.conf(5)
# describes every key it lists (by name, as *key*). (That each row's
# default and section are real is test_config's `doc_rows_parse`.)
. "$(dirname "$0")/../lib/env.sh"
hc_setup
export HSMCACHE_CONF=$T/no-such.conf   # it reads no config

"$HC" config-keys > "$T/keys.md" 2> "$T/keys.err"; st=$?
equals "hsmcache config-keys: exit 0, nothing on stderr" "$st:$(cat "$T/keys.err")" "0:"
out=$("$HC" config-keys --help 2>&1); st=$?
equals "hsmcache config-keys --help: exit 0, its usage first" "$st:$(head -1 <<< "$out")" \
    "0:usage: hsmcache config-keys"
out=$("$HC" config-keys extra 2>&1); st=$?
equals "hsmcache config-keys ARG: exit 2, the argument named" \
    "$st:$(grep -c "unexpected argument 'extra'" <<< "$out")" "2:1"
rows=$(grep -c '^| `\[' "$T/keys.md")
check "hsmcache config-keys: a row per key (50 or more; $rows)" test "$rows" -ge 50
contains "hsmcache config-keys: a key with its default and meaning" "$(cat "$T/keys.md")" \
    '| `[token NAME] max-sessions` | `4` | real sessions in the pool |'

# README's table: the lines between the markers.
sed -n '/^<!-- config-keys/,/^<!-- end config-keys -->/p' "$TOP/README.md" | sed '1d;$d' \
    > "$T/readme.md"
check "README.md has the config-keys markers around a table" test -s "$T/readme.md"
if diff -u "$T/readme.md" "$T/keys.md" > "$T/diff"; then
    ok "README's configuration table is hsmcache config-keys's, line for line"
else
    not_ok "README's configuration table differs from hsmcache config-keys (run scripts/config-doc.sh): $(head -c 2000 "$T/diff")"
fi

# hsmcache.conf(5): every key by name.
missing=""
while IFS= read -r cell; do
    key=${cell##* }
    grep -qF "*$key*" "$TOP/man/hsmcache.conf.5.scd" || missing="$missing ${cell}"
done < <(grep '^| `\[' "$T/keys.md" | awk -F'`' '{ print $2 }')
equals "hsmcache.conf(5) describes every key of hsmcache config-keys (missing:$missing)" "$missing" ""
done_testing
