#!/usr/bin/env bash
# The folders of shared/src are layers (README "Layout"): util/ knows
# nothing above it, proto/ only util/ and the public header, the agent
# client uses nothing from core/ (a host linked to the agent alone never
# needs the embedded core's parts). Read from the #include lines of the
# source tree this build came from; each layer must have files, so an
# empty or moved folder cannot pass by matching nothing.
# no-sanitizer: reads sources only
. "$(dirname "$0")/../lib/env.sh"
SRC=$TOP/shared/src
# includes LAYER FOLDER...: the quoted includes of LAYER's files that name
# one of FOLDER/ (sorted, one per line, with the including file).
includes() {
    local layer=$1; shift
    local pat
    pat=$(printf '%s/|' "$@"); pat=${pat%|}
    grep -HnE "^#include \"(\.\./)?($pat)" "$SRC/$layer"/*.[ch] || true
}
for layer in core agent-client proto util; do
    n=$(ls "$SRC/$layer"/*.c 2>/dev/null | wc -l)
    check "shared/src/$layer has its sources ($n .c files)" test "$n" -ge 1
done
equals "util/ includes nothing from core/, proto/, agent-client/" \
    "$(includes util core proto agent-client)" ""
equals "proto/ includes nothing from core/ or agent-client/" \
    "$(includes proto core agent-client)" ""
equals "agent-client/ includes nothing from core/" \
    "$(includes agent-client core)" ""
# The layers' headers are reached by their folder, never through a second
# include path: a file outside core/ naming "pool.h"-style bare core
# headers would compile only if someone added -Ishared/src/core.
bare=$(cd "$SRC/core" && ls *.h)
hits=""
for h in $bare; do
    hits+=$(grep -rlE "^#include \"$h\"" "$TOP/shared/agent" "$TOP/shared/cli" "$TOP/shared/front" \
        "$TOP/pdns-backend" "$TOP/bind-keystore" "$TOP/sshca-plugin" "$SRC"/*.c "$SRC"/*.h \
        "$SRC/agent-client" "$SRC/proto" "$SRC/util" 2>/dev/null)
done
equals "no file outside core/ includes a core header by its bare name" "$hits" ""
lacks "the build adds no include path into shared/src's folders" \
    "$(grep -hE -- '-Ishared/src/' "$TOP/Makefile" "$TOP/tests/tests.mk")" "-Ishared/src/"
# hsmcache.h is the boundary (issue 17 item 7, Makefile's note at $(LIB)).
# 1. Plugins include only their own folder's headers, hsmcache.h and their
# host's header (the PKCS#11 front's front.h; pdns-hsm, a command, the
# commands' cmdline.h), and those host headers in turn no header of
# shared/src: each quoted include is resolved as the compiler would (the
# including file's folder, then -Ishared/include, -Ishared/src,
# -Ishared/cli), so neither a folder name nor a "../" path slips past, and
# a host header is followed into its own includes.
PLUGIN_DIRS="$TOP/pdns-backend $TOP/sshca-plugin $TOP/bind-keystore"
HOST_HEADERS="$TOP/shared/include/hsmcache.h $TOP/shared/front/front.h $TOP/shared/cli/cmdline.h"
resolve() {
    local base
    for base in "$(dirname "$1")" "$TOP/shared/include" "$SRC" "$TOP/shared/cli"; do
        if [ -e "$base/$2" ]; then realpath -m "$base/$2"; return; fi
    done
}
in_plugin() {
    local d
    for d in $PLUGIN_DIRS; do case $1 in "$d"/*) return 0 ;; esac; done
    return 1
}
plugin_hits="" foreign_hits="" nplugin=0
mapfile -t queue < <(find $PLUGIN_DIRS -name '*.[ch]' | sort)
nplugin=${#queue[@]}
declare -A seen=()
for ((qi = 0; qi < ${#queue[@]}; qi++)); do
    f=${queue[qi]}
    for inc in $(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f"); do
        real=$(resolve "$f" "$inc")
        [ -n "$real" ] || continue
        case $real in "$(realpath "$SRC")"/*) plugin_hits+="${f#"$TOP"/}: $inc"$'\n'; continue ;; esac
        in_plugin "$real" && continue
        case " $HOST_HEADERS " in
        *" $real "*) [ -n "${seen[$real]:-}" ] || { seen[$real]=1; queue+=("$real"); } ;;
        *) foreign_hits+="${f#"$TOP"/}: $inc"$'\n' ;;
        esac
    done
done
check "the plugin sources are there ($nplugin files)" test "$nplugin" -ge 20
equals "plugin sources and their host headers include no shared/src header" "$plugin_hits" ""
equals "plugin sources include only their own headers, hsmcache.h and their host's" \
    "$foreign_hits" ""
# 1b. What a profile's own keys mean is its plugin's business: the core
# keeps [pdns] and [sshca] as config_keys.c's rows, and no other file of
# shared/src names one of those keys in its code (settings.c once listed them by hand,
# core.c read [sshca] audit-log). The keys come from the table itself.
own_keys=$("$BUILD/hsmcache" config-keys | grep -E '^\| `\[(pdns|sshca)\]' |
    sed -E 's/^\| `([^`]*)`.*/\1/' | awk '{ print $NF }' | sort -u)
check "the table lists [pdns]'s and [sshca]'s own keys ($(echo "$own_keys" | wc -w))" \
    test "$(echo "$own_keys" | wc -w)" -ge 10
core_hits=""
for k in $own_keys; do # code lines only: a comment may name a stats group "presign"
    h=$(grep -rnF --include='*.[ch]' "\"$k\"" "$SRC" | grep -v '/config_keys\.c:' |
        grep -vE '^[^:]*:[0-9]+:[[:space:]]*(/?\*|//)' | sed "s|^$SRC/|shared/src/|")
    [ -z "$h" ] || core_hits+="$h"$'\n'
done
equals "no file of shared/src but config_keys.c names a [pdns] or [sshca] key" "$core_hits" ""
# 2. libhsmcache.so exports exactly the calls hsmcache.h declares (read
# from the preprocessed header, not with the Makefile's sed that writes
# the version script): nothing internal is reachable by a host, and no
# declared call is missing.
declared=$(cc -E -P -I"$TOP/shared/include" $(pkg-config --cflags p11-kit-1) \
    "$TOP/shared/include/hsmcache.h" | grep -oE '\bhc_[a-z0-9_]+ *\(' | tr -d ' (' | sort -u)
exported=$(nm -D --defined-only "$BUILD/libhsmcache.so" | awk '{ print $NF }' | sort -u)
check "hsmcache.h declares calls ($(echo "$declared" | wc -l))" test "$(echo "$declared" | wc -l)" -ge 30
equals "libhsmcache.so exports exactly hsmcache.h's calls" "$exported" "$declared"
# 3. The agent client needs nothing from core/ at link time either: no
# symbol its objects use is one that only core/'s objects define (the
# include check above cannot see a declaration borrowed through another
# header, e.g. an object-reference helper defined in the key index).
obj=$BUILD/obj/shared/src
ncore=$(ls "$obj/core"/*.o 2>/dev/null | wc -l)
check "the build's core/ and agent-client/ objects are there ($ncore core)" \
    test "$ncore" -ge 10 -a -e "$obj/agent-client/agent_client.o"
core_defs=$(nm --defined-only "$obj/core"/*.o | awk 'NF == 3 && $2 ~ /[TDBR]/ { print $3 }' | sort -u)
client_uses=$(nm --undefined-only "$obj/agent-client"/*.o | awk '{ print $NF }' | sort -u)
equals "agent-client/'s objects use no symbol defined in core/" \
    "$(comm -12 <(echo "$core_defs") <(echo "$client_uses") | tr '\n' ' ')" ""
done_testing
