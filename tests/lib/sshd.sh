# tests/lib/sshd.sh: one sshd for the SSH CA tests. Source after env.sh.
#   start_sshd NAME PORT LINE...
#       an sshd on 127.0.0.1:PORT with $T/NAME_config (host key
#       $T/host_key, no password, no keyboard-interactive, no PAM, no
#       authorized_keys: only certificates let anyone in) plus LINE...
#       (TrustedUserCAKeys, HostCertificate, RevokedKeys ...); its log in
#       $T/NAME.log, its pid added to HC_PIDS; returns once it listens.
start_sshd() {
    local name=$1 port=$2 line
    shift 2
    mkdir -p /run/sshd
    {
        printf 'Port %s\nListenAddress 127.0.0.1\nHostKey %s/host_key\n' "$port" "$T"
        printf 'PidFile %s/%s.pid\nAuthorizedKeysFile none\n' "$T" "$name"
        printf 'PasswordAuthentication no\nKbdInteractiveAuthentication no\n'
        printf 'UsePAM no\nStrictModes no\n'
        for line in "$@"; do printf '%s\n' "$line"; done
    } > "$T/${name}_config"
    /usr/sbin/sshd -D -e -f "$T/${name}_config" 2> "$T/$name.log" &
    HC_PIDS="${HC_PIDS:-} $!"
    for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
}
