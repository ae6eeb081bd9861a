#!/usr/bin/env bash
# Generates the development PKI for a local EdgeProof broker with the openssl CLI.
#
#   broker/gen-certs.sh DIR [NAME...]
#
# Writes into DIR (created if missing; set to mode 700):
#   ca.crt, ca.key          development CA (EC P-256), reused when both files already exist
#   server.crt, server.key  broker certificate for localhost and 127.0.0.1, made if missing
#   NAME.crt, NAME.key      one client certificate per NAME with CN=NAME, made if missing
#
# NAME is the identity the broker sees (use_identity_as_username) and a topic level of the ACL:
# 1-64 characters of letters, digits, ".", "_", "-", not starting with "." or "-". The role follows
# from the name: gateway* = gateway, collector* = collector, bridge* = bridge, anything else = agent.
# Keys are unencrypted (mode 600): development and tests only. Never write DIR inside the repository.
set -euo pipefail
export LC_ALL=C   # byte-wise character classes in the name check

usage() {
    echo "usage: $0 DIR [NAME...]" >&2
    echo "  NAME: 1-64 of [A-Za-z0-9._-], not starting with '.' or '-'; not 'ca' or 'server'" >&2
    exit 2
}

[[ $# -ge 1 && -n $1 ]] || usage
dir=$1
shift

name_pattern='^[A-Za-z0-9_][A-Za-z0-9._-]{0,63}$'
for name in "$@"; do
    if ! [[ $name =~ $name_pattern ]]; then
        echo "error: invalid client name '$name' (1-64 of [A-Za-z0-9._-], not starting with '.' or '-')" >&2
        exit 2
    fi
    if [[ $name == ca || $name == server ]]; then
        echo "error: '$name' is reserved for the CA and broker certificates" >&2
        exit 2
    fi
done

command -v openssl >/dev/null || { echo "error: openssl not found (apt-get install openssl)" >&2; exit 1; }

umask 077
mkdir -p "$dir"
chmod 700 "$dir"

leaf_days=825
ca_days=3650
work=$(mktemp -d "${TMPDIR:-/tmp}/edgeproof-gen-certs.XXXXXX")
trap 'rm -rf "$work"' EXIT

new_key() { # FILE: an EC P-256 private key, mode 600
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null
    chmod 600 "$1"
}

random_serial() { # 128 random bits, positive
    echo "0x$(openssl rand -hex 16)"
}

# A key/certificate pair is either complete or absent; anything else needs a person to decide.
# Sets $state; runs in this shell (not in a command substitution) so that its exit ends the script.
pair_state() { # BASENAME -> state=present|absent
    local crt=$dir/$1.crt key=$dir/$1.key
    if [[ -f $crt && -f $key ]]; then
        state=present
    elif [[ ! -e $crt && ! -e $key ]]; then
        state=absent
    else
        echo "error: only one of $crt and $key exists; remove it or restore the other" >&2
        exit 1
    fi
}

# An existing certificate must belong to the existing CA and to its key.
check_existing() { # BASENAME
    local crt=$dir/$1.crt key=$dir/$1.key
    if ! openssl verify -CAfile "$dir/ca.crt" "$crt" >/dev/null 2>&1; then
        echo "error: $crt is not signed by $dir/ca.crt (expired, or from another CA); remove $crt and $key to reissue" >&2
        exit 1
    fi
    if [[ "$(openssl x509 -in "$crt" -noout -pubkey)" != "$(openssl pkey -in "$key" -pubout)" ]]; then
        echo "error: $crt does not match $key; remove both to reissue" >&2
        exit 1
    fi
}

sign_leaf() { # BASENAME SUBJECT EXTENSIONS
    local base=$1 subject=$2 extensions=$3
    new_key "$work/$base.key"
    openssl req -new -key "$work/$base.key" -subj "$subject" -out "$work/$base.csr"
    printf '%s\n' "$extensions" >"$work/$base.ext"
    openssl x509 -req -in "$work/$base.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" \
        -set_serial "$(random_serial)" -days "$leaf_days" -sha256 \
        -extfile "$work/$base.ext" -out "$work/$base.crt" 2>/dev/null
    chmod 644 "$work/$base.crt"
    # Key first, then certificate: a pair only counts as present once both are in place.
    mv "$work/$base.key" "$dir/$base.key"
    mv "$work/$base.crt" "$dir/$base.crt"
}

leaf_common='basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid, issuer'

# The CA.
pair_state ca
case $state in
present)
    if [[ "$(openssl x509 -in "$dir/ca.crt" -noout -pubkey)" != "$(openssl pkey -in "$dir/ca.key" -pubout)" ]]; then
        echo "error: $dir/ca.crt does not match $dir/ca.key" >&2
        exit 1
    fi
    echo "kept    $dir/ca.crt (existing CA: $(openssl x509 -in "$dir/ca.crt" -noout -subject -nameopt RFC2253))"
    ;;
absent)
    new_key "$work/ca.key"
    openssl req -x509 -new -key "$work/ca.key" -sha256 -days "$ca_days" -set_serial "$(random_serial)" \
        -subj "/CN=EdgeProof Development CA" \
        -addext "basicConstraints = critical, CA:TRUE" \
        -addext "keyUsage = critical, keyCertSign, cRLSign" \
        -addext "subjectKeyIdentifier = hash" \
        -out "$work/ca.crt"
    chmod 644 "$work/ca.crt"
    mv "$work/ca.key" "$dir/ca.key"
    mv "$work/ca.crt" "$dir/ca.crt"
    echo "created $dir/ca.crt, $dir/ca.key (CN=EdgeProof Development CA, $ca_days days)"
    ;;
esac

# The broker.
pair_state server
case $state in
present)
    check_existing server
    echo "kept    $dir/server.crt"
    ;;
absent)
    sign_leaf server "/CN=localhost" "$leaf_common
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1"
    echo "created $dir/server.crt, $dir/server.key (CN=localhost, SAN DNS:localhost IP:127.0.0.1, $leaf_days days)"
    ;;
esac

# The clients.
for name in "$@"; do
    pair_state "$name"
    case $state in
    present)
        check_existing "$name"
        echo "kept    $dir/$name.crt"
        ;;
    absent)
        sign_leaf "$name" "/CN=$name" "$leaf_common
extendedKeyUsage = clientAuth"
        echo "created $dir/$name.crt, $dir/$name.key (CN=$name, $leaf_days days)"
        ;;
    esac
done
