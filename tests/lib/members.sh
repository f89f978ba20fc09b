# tests/lib/members.sh: the devices of a token group (issue 18) for the
# tests and benches: SoftHSM tokens holding the same imported key pairs,
# each behind its own copy of the simulator and of SoftHSM, so that a
# fault (hang, remove) hits one device only. Source after env.sh and
# hc_setup.

# sim_members MS CONCURRENCY NAME...: for each NAME a SoftHSM token
# dev-NAME behind $T/hsmsim-NAME.so (over $T/softhsm-NAME.so), C_Sign
# taking MS ms, every other call free, CONCURRENCY calls at once (0: no
# limit); its state file is $T/sim-NAME.conf.state (for hsmsim-ctl).
sim_members() {
    local ms=$1 conc=$2 d
    shift 2
    for d in "$@"; do
        make_token "dev-$d"
        cp "$SIM" "$T/hsmsim-$d.so"
        cp "$SOFTHSM_MODULE" "$T/softhsm-$d.so"
        printf 'module = %s\nlatency-ms = 0\nlatency.C_Sign = %s\nconcurrency = %s\n' \
            "$T/softhsm-$d.so" "$ms" "$conc" > "$T/sim-$d.conf"
        export "HSMSIM_CONF_hsmsim_$d=$T/sim-$d.conf"
    done
}

# member_conf NAME [LINE...]: a [token NAME] section on sim_members'
# device NAME, LINEs appended.
member_conf() {
    local d=$1
    shift
    printf '[token %s]\nmodule = %s\nlabel = dev-%s\n' "$d" "$T/hsmsim-$d.so" "$d"
    [ $# -eq 0 ] || printf '%s\n' "$@"
}

# import_pair PEM LABEL ID NAME...: the key pair in PEM (private and
# public key objects, CKA_LABEL LABEL, CKA_ID ID in hex) into each token
# dev-NAME: how keys are replicated between members in the tests.
import_pair() {
    local pem=$1 label=$2 id=$3 d
    shift 3
    for d in "$@"; do
        softhsm2-util --import "$pem" --token "dev-$d" --label "$label" --id "$id" \
            --pin "$PIN" > /dev/null || return 1
    done
}

# member_signs NAME: C_Sign calls device NAME's simulator made.
member_signs() { "$SIMCTL" "$T/sim-$1.conf.state" get C_Sign; }
