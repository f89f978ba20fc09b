# scripts/lib/sshd.sh: a throwaway sshd on 127.0.0.1 that lets in only
# certificates, and a login with one: `make demo` (scripts/demo.sh) and
# the SSH CA tests (tests/lib/sshd.sh) use these. Source it (bash).
#
#   sshd_host_key DIR
#       DIR/host_key (ed25519), made unless it exists: a caller that
#       certifies the host key (HostCertificate) makes it first.
#   sshd_start DIR NAME PORT LINE...
#       an sshd on 127.0.0.1:PORT with DIR/NAME_config: host key
#       DIR/host_key, no password, no keyboard-interactive, no PAM, no
#       authorized_keys (only certificates let anyone in), plus LINE...
#       (TrustedUserCAKeys, HostCertificate, RevokedKeys ...). Its log in
#       DIR/NAME.log, its pid in SSHD_PID and appended to HC_PIDS (the
#       caller's cleanup kills it). Returns 0 once it listens; 1, with the
#       log's end on stderr, if it exits first or does not within 5 s.
#   sshd_login PORT KEY USER KNOWN_HOSTS CMD...
#       runs CMD as USER@127.0.0.1:PORT with KEY and KEY-cert.pub alone,
#       never asking anything; the host is checked against KNOWN_HOSTS (a
#       @cert-authority line) or, with "", not at all.
sshd_host_key() {
    [ -e "$1/host_key" ] || ssh-keygen -q -t ed25519 -N '' -f "$1/host_key"
}

sshd_start() {
    local dir=$1 name=$2 port=$3 line
    shift 3
    mkdir -p /run/sshd # its privilege separation directory
    sshd_host_key "$dir" || return 1
    {
        printf 'Port %s\nListenAddress 127.0.0.1\nHostKey %s/host_key\n' "$port" "$dir"
        printf 'PidFile %s/%s.pid\nAuthorizedKeysFile none\n' "$dir" "$name"
        printf 'PasswordAuthentication no\nKbdInteractiveAuthentication no\n'
        printf 'UsePAM no\nStrictModes no\n'
        for line in "$@"; do printf '%s\n' "$line"; done
    } > "$dir/${name}_config"
    /usr/sbin/sshd -D -e -f "$dir/${name}_config" 2> "$dir/$name.log" &
    SSHD_PID=$!
    HC_PIDS="${HC_PIDS:-} $SSHD_PID"
    for _ in $(seq 50); do
        (exec 3<> "/dev/tcp/127.0.0.1/$port") 2> /dev/null && return 0
        kill -0 "$SSHD_PID" 2> /dev/null || break # it exited: no use waiting
        sleep 0.1
    done
    echo "sshd $name does not listen on 127.0.0.1:$port:" >&2
    tail -5 "$dir/$name.log" >&2
    return 1
}

sshd_login() {
    local port=$1 key=$2 user=$3 known=$4
    shift 4
    local hostcheck=(-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null)
    [ -n "$known" ] && hostcheck=(-o StrictHostKeyChecking=yes -o UserKnownHostsFile="$known")
    ssh -F /dev/null -p "$port" -i "$key" -o CertificateFile="$key-cert.pub" \
        -o IdentitiesOnly=yes -o BatchMode=yes "${hostcheck[@]}" -o ConnectTimeout=5 \
        -o LogLevel=ERROR "$user@127.0.0.1" "$@"
}
