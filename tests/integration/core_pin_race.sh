#!/usr/bin/env bash
# Eight processes race one wrong PIN file at the same moment: exactly one
# C_Login reaches the card and its PIN counter moves by one ("wrong 1
# locked 0"), because check-mark / C_Login / write-mark runs under the
# token's cross-process file lock. The card's C_Login takes 1.5 s, so the
# eight processes are all alive while the first login is in flight: the
# test shows that (every process started before any ended) and that all
# eight were refused.
. "$(dirname "$0")/../lib/env.sh"
hc_setup
make_token racetok
write_config dns "$SIM" racetok
store_pin dns
"$HC" keygen dns ec ecdsa-p256 >/dev/null
cat >> "$HSMSIM_CONF" <<EOC
latency.C_Login = 1500
EOC
"$SIMCTL" "$SIMSTATE" reset
store_pin dns "wrong-race-pin"

# Start times are taken before exec and end times after exit, so "every
# start before the first end" means every pair of runs overlapped.
for i in 1 2 3 4 5 6 7 8; do
    (
        date +%s%N > "$T/start.$i"
        "$BUILD/tests/sigload" "$FRONT" ec 1 0.05 > "$T/out.$i" 2>&1
        echo $? > "$T/rc.$i"
        date +%s%N > "$T/end.$i"
    ) &
    pids="${pids:-} $!"
done
for p in $pids; do wait "$p"; done

last_start=$(cat "$T"/start.* | sort -n | tail -1)
first_end=$(cat "$T"/end.* | sort -n | head -1)
if [ "$last_start" -lt "$first_end" ]; then
    ok "8 processes overlapped: the last started $(( (first_end - last_start) / 1000000 )) ms before the first ended"
else
    not_ok "the 8 processes did not overlap (last start $last_start, first end $first_end)"
fi
refused=0
for i in 1 2 3 4 5 6 7 8; do
    [ "$(cat "$T/rc.$i")" = 1 ] && grep -q "verified 0 failed" "$T/out.$i" && refused=$((refused + 1))
done
equals "all 8 were refused signing with the wrong PIN" "$refused" "8"
equals "exactly one C_Login reached the card for 8 racing processes" "$(sim_count C_Login)" "1"
equals "the card's PIN counter moved by one, not locked" "$("$SIMCTL" "$SIMSTATE" pin-status)" "wrong 1 locked 0"

# Control: the counter counts every try. With the right PIN a second
# process logs in too (a good login is not remembered across processes).
store_pin dns
check "the right PIN signs" "$BUILD/tests/sigload" "$FRONT" ec 1 0.05
equals "the control login is counted (2 C_Login)" "$(sim_count C_Login)" "2"
equals "the good login reset the wrong-try counter" "$("$SIMCTL" "$SIMSTATE" pin-status)" "wrong 0 locked 0"
done_testing
