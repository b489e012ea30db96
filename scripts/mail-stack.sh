#!/usr/bin/env bash
# A real mail stack on loopback for tests and benchmarks: Dovecot (IMAP with IDLE, LMTP) and
# Postfix (SMTP delivering into Dovecot over LMTP), each instance in its own directory.
# Settings follow ../shared/notes/mail-stack.md (checked on these machines).
#
#   scripts/mail-stack.sh install              install the Debian packages if missing
#   scripts/mail-stack.sh start DIR [USER:PASSWORD ...]
#                                              start a stack in DIR; prints KEY=VALUE lines:
#                                              IMAP_PORT IMAPS_PORT SMTP_PORT LMTP_PORT CA_FILE
#   scripts/mail-stack.sh adduser DIR USER:PASSWORD ...
#   scripts/mail-stack.sh stop-dovecot DIR | start-dovecot DIR
#   scripts/mail-stack.sh flush DIR            ask Postfix to retry its deferred queue now
#   scripts/mail-stack.sh stop DIR             stop both and forget DIR
#
# Ports come from IMAP_PORT, IMAPS_PORT, SMTP_PORT, LMTP_PORT when set, else free ones.
# Mail for aurora.example, posta.example, correo.example, courriel.example, mail.example and
# example.test is delivered locally; users are full addresses. Needs root (as on CI).
set -euo pipefail

DOMAINS="aurora.example posta.example correo.example courriel.example mail.example example.test"
MAIL_USER=swmail

die() { echo "mail-stack: $*" >&2; exit 1; }

install_packages() {
    local missing=()
    command -v dovecot >/dev/null || missing+=(dovecot-imapd)
    [ -x /usr/lib/dovecot/lmtp ] || missing+=(dovecot-lmtpd)
    command -v postfix >/dev/null || missing+=(postfix)
    command -v openssl >/dev/null || missing+=(openssl)
    if [ ${#missing[@]} -gt 0 ]; then
        echo "mail-stack: installing ${missing[*]}" >&2
        export DEBIAN_FRONTEND=noninteractive
        # Postfix asks for a configuration type; "No configuration" leaves /etc/postfix alone.
        echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
        apt-get update -qq >&2
        apt-get install -y -qq "${missing[@]}" >&2
    fi
    [ -f /etc/postfix/main.cf ] || cp /usr/share/postfix/main.cf.debian /etc/postfix/main.cf 2>/dev/null || touch /etc/postfix/main.cf
    id "$MAIL_USER" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$MAIL_USER"
}

# A test CA and a server certificate for localhost/127.0.0.1 signed by it (a self-signed
# certificate used as its own CA is rightly refused by webpki).
make_certificates() {
    local dir=$1
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=Switchyard test CA" \
        -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign" \
        -keyout "$dir/ca.key" -out "$dir/ca.pem" 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout "$dir/key.pem" -out "$dir/server.csr" 2>/dev/null
    printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n' > "$dir/server.ext"
    openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" -CAcreateserial -days 2 \
        -extfile "$dir/server.ext" -out "$dir/cert.pem" 2>/dev/null
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

add_users() {
    local dir=$1; shift
    for entry in "$@"; do
        local user=${entry%%:*} pass=${entry#*:}
        grep -q "^${user}:" "$dir/users" 2>/dev/null || echo "${user}:{PLAIN}${pass}" >> "$dir/users"
        mkdir -p "$dir/mail/$user"
        chown "$MAIL_USER:$MAIL_USER" "$dir/mail/$user"
    done
}

write_dovecot_conf() {
    local dir=$1 uid gid
    uid=$(id -u "$MAIL_USER"); gid=$(id -g "$MAIL_USER")
    cat > "$dir/dovecot.conf" <<EOF
base_dir = $dir/run
state_dir = $dir/state
log_path = $dir/dovecot.log
info_log_path = $dir/dovecot.log
listen = 127.0.0.1
protocols = imap lmtp
ssl = yes
ssl_cert = <$dir/cert.pem
ssl_key = <$dir/key.pem
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:$dir/mail/%u
mail_max_userip_connections = 200
imap_idle_notify_interval = 2 mins
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $dir/users
}
userdb {
  driver = static
  args = uid=$uid gid=$gid home=$dir/mail/%u
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = $IMAP_PORT
  }
  inet_listener imaps {
    address = 127.0.0.1
    port = $IMAPS_PORT
    ssl = yes
  }
}
service lmtp {
  inet_listener lmtp {
    address = 127.0.0.1
    port = $LMTP_PORT
  }
}
service anvil {
  chroot =
}
service imap-login {
  chroot =
}
namespace inbox {
  inbox = yes
  separator = /
  mailbox Drafts {
    special_use = \Drafts
    auto = subscribe
  }
  mailbox Sent {
    special_use = \Sent
    auto = subscribe
  }
  mailbox Trash {
    special_use = \Trash
    auto = create
  }
}
EOF
}

write_postfix_conf() {
    local dir=$1
    mkdir -p "$dir/postfix" "$dir/postfix/queue" "$dir/postfix/data"
    cat > "$dir/postfix/main.cf" <<EOF
compatibility_level = 3.6
queue_directory = $dir/postfix/queue
data_directory = $dir/postfix/data
inet_interfaces = loopback-only
inet_protocols = ipv4
myhostname = mx.aurora.example
mydestination =
mynetworks = 127.0.0.0/8
virtual_mailbox_domains = $DOMAINS
virtual_transport = lmtp:inet:127.0.0.1:$LMTP_PORT
smtpd_relay_restrictions = permit_mynetworks, reject
# A recipient that is always refused (5xx), for tests of permanent delivery failures.
smtpd_recipient_restrictions = check_recipient_access inline:{ {refused@posta.example = 550 5.1.1 Mailbox unavailable} }, permit_mynetworks, reject
smtpd_tls_cert_file = $dir/cert.pem
smtpd_tls_key_file = $dir/key.pem
smtpd_tls_security_level = may
maillog_file = $dir/postfix.log
maillog_file_prefixes = /var, /dev/stdout, $dir
# Retry quickly: tests stop Dovecot and expect the queue to drain once it is back.
queue_run_delay = 2s
minimal_backoff_time = 2s
maximal_backoff_time = 10s
smtputf8_enable = no
EOF
    sed -E "s/^smtp([[:space:]]+)inet([[:space:]]+)([^[:space:]]+)([[:space:]]+)([^[:space:]]+)([[:space:]]+)([^[:space:]]+)/127.0.0.1:$SMTP_PORT\1inet\2\3\4\5\6n/" \
        /etc/postfix/master.cf > "$dir/postfix/master.cf"
    # Every service unchrooted: the queue lives in a temporary directory.
    postconf -c "$dir/postfix" -F '*/*/chroot = n' >/dev/null
    chown -R postfix "$dir/postfix/data"
}

allow_postfix_dir() {
    local cfg=$1
    (
        flock 9
        local current
        current=$(postconf -h alternate_config_directories 2>/dev/null || true)
        case " $current " in
            *" $cfg "*) ;;
            *) postconf -e "alternate_config_directories = $current $cfg" ;;
        esac
    ) 9>/tmp/switchyard-mail-stack.lock
}

forget_postfix_dir() {
    local cfg=$1
    (
        flock 9
        local kept=()
        for d in $(postconf -h alternate_config_directories 2>/dev/null || true); do
            [ "$d" = "$cfg" ] || kept+=("$d")
        done
        postconf -e "alternate_config_directories = ${kept[*]:-}"
    ) 9>/tmp/switchyard-mail-stack.lock
}

start_dovecot() {
    local dir=$1
    # Detached from our stdout: a caller reading it (a pipe) must see it close.
    dovecot -c "$dir/dovecot.conf" </dev/null >>"$dir/dovecot.log" 2>&1 || { cat "$dir/dovecot.log" >&2 || true; die "dovecot did not start"; }
    wait_port "$IMAP_PORT" || { cat "$dir/dovecot.log" >&2; die "dovecot is not listening on $IMAP_PORT"; }
}

wait_port() {
    for _ in $(seq 1 100); do
        (echo > "/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.05
    done
    return 1
}

load_ports() {
    local dir=$1
    [ -f "$dir/ports" ] || die "$dir has no running stack"
    # shellcheck disable=SC1091
    . "$dir/ports"
}

cmd=${1:-}
case "$cmd" in
    install)
        install_packages
        ;;
    start)
        dir=$(realpath -m "${2:?usage: start DIR}"); shift 2
        install_packages
        mkdir -p "$dir/run" "$dir/state" "$dir/mail"
        # Dovecot and Postfix run as their own users and must be able to enter the directory.
        chmod 755 "$dir"
        chown "$MAIL_USER:$MAIL_USER" "$dir/mail"
        IMAP_PORT=${IMAP_PORT:-$(free_port)}
        IMAPS_PORT=${IMAPS_PORT:-$(free_port)}
        SMTP_PORT=${SMTP_PORT:-$(free_port)}
        LMTP_PORT=${LMTP_PORT:-$(free_port)}
        printf 'IMAP_PORT=%s\nIMAPS_PORT=%s\nSMTP_PORT=%s\nLMTP_PORT=%s\nCA_FILE=%s\n' \
            "$IMAP_PORT" "$IMAPS_PORT" "$SMTP_PORT" "$LMTP_PORT" "$dir/ca.pem" > "$dir/ports"
        make_certificates "$dir"
        touch "$dir/users"
        add_users "$dir" "$@"
        write_dovecot_conf "$dir"
        write_postfix_conf "$dir"
        allow_postfix_dir "$dir/postfix"
        start_dovecot "$dir"
        postfix -c "$dir/postfix" set-permissions >/dev/null 2>&1 || true
        postfix -c "$dir/postfix" start >/dev/null 2>&1 || { cat "$dir/postfix.log" >&2 || true; die "postfix did not start"; }
        wait_port "$SMTP_PORT" || { cat "$dir/postfix.log" >&2; die "postfix is not listening on $SMTP_PORT"; }
        cat "$dir/ports"
        ;;
    adduser)
        dir=$(realpath -m "${2:?usage: adduser DIR USER:PASSWORD ...}"); shift 2
        add_users "$dir" "$@"
        ;;
    stop-dovecot)
        dir=$(realpath -m "${2:?}")
        doveadm -c "$dir/dovecot.conf" stop 2>/dev/null || true
        ;;
    start-dovecot)
        dir=$(realpath -m "${2:?}")
        load_ports "$dir"
        start_dovecot "$dir"
        ;;
    flush)
        dir=$(realpath -m "${2:?}")
        postqueue -c "$dir/postfix" -f
        ;;
    stop)
        dir=$(realpath -m "${2:?}")
        postfix -c "$dir/postfix" stop >/dev/null 2>&1 || true
        doveadm -c "$dir/dovecot.conf" stop 2>/dev/null || true
        forget_postfix_dir "$dir/postfix"
        ;;
    *)
        sed -n '2,16p' "$0" >&2
        exit 2
        ;;
esac
