# tests/lib/sshd.sh: the SSH CA tests' sshd, the one `make demo` uses too
# (scripts/lib/sshd.sh: sshd_host_key, sshd_start, sshd_login). Source
# after env.sh.
#   start_sshd NAME PORT LINE...
#       sshd_start in the test's $T: host key $T/host_key, config
#       $T/NAME_config, log $T/NAME.log, pid added to HC_PIDS (killed by
#       hc_cleanup); returns once it listens.
. "$TOP/scripts/lib/sshd.sh"
start_sshd() { sshd_start "$T" "$@"; }
