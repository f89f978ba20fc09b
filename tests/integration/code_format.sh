#!/usr/bin/env bash
# The tree keeps the house style (.clang-format at the top): every C
# source and header under the project's folders is as clang-format-19
# would write it. The check first shows the formatter is live with our
# config (a badly formatted sample must be reported), so a missing tool or
# an unread config cannot pass by finding nothing.
# no-sanitizer: reads sources only
. "$(dirname "$0")/../lib/env.sh"
CF=clang-format-19
check "$CF is installed (scripts/install-deps.sh)" command -v "$CF"
check ".clang-format is at the top of the tree" test -f "$TOP/.clang-format"
out=$(printf 'int  f( int a ){ return a; }\n' | (cd "$TOP" && "$CF" --dry-run --Werror \
    --assume-filename=shared/src/sample.c) 2>&1); st=$?
equals "the formatter reports a badly formatted sample (control)" "$st" "1"
mapfile -t files < <(cd "$TOP" && find shared pdns-backend bind-keystore sshca-plugin tests \
    -name '*.[ch]' -not -path '*/build*' | sort)
check "there are sources to check (${#files[@]})" test "${#files[@]}" -ge 100
out=$(cd "$TOP" && "$CF" --dry-run --Werror "${files[@]}" 2>&1); st=$?
mapfile -t bad < <(sed -nE 's/^([^ :]+\.[ch]):[0-9]+:[0-9]+: (warning|error).*/\1/p' <<< "$out" | sort -u)
equals "every source is formatted as .clang-format says (run: $CF -i FILE...)" \
    "$st, ${#bad[@]} files: ${bad[*]:0:8}" "0, 0 files: "
done_testing
