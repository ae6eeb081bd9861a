#!/usr/bin/env bash
# Adds client identities to a running EdgeProof broker, without a restart.
#
#   broker/add-clients.sh DIR PORT NAME...
#
# Makes a certificate for each NAME in DIR (broker/gen-certs.sh; existing ones are kept), then sends the
# dynamic security plugin a createRole and a createClient command per NAME, with the rules of
# broker/acl for its role by CN (as run-broker.sh writes them at start), through the plugin's control
# topic as broker-admin (made by run-broker.sh). Names the broker knows already are left as they are.
# The plugin saves the change to DIR/dynsec.json; the next run-broker.sh renders the same from the
# certificates. The topic prefix is edgeproof/v1 unless EDGEPROOF_TOPIC_PREFIX says otherwise.
set -euo pipefail
export LC_ALL=C

[[ $# -ge 3 ]] || { echo "usage: $0 DIR PORT NAME..." >&2; exit 2; }
dir=$1 port=$2
shift 2
script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
prefix=${EDGEPROOF_TOPIC_PREFIX:-edgeproof/v1}
while [[ $prefix == */ ]]; do prefix=${prefix%/}; done

if [[ ! -f $dir/broker-admin.crt || ! -f $dir/broker-admin.key ]]; then
    echo "error: $dir/broker-admin.crt is missing: run-broker.sh makes it when ca.key is in DIR" >&2
    exit 1
fi
"$script_dir/gen-certs.sh" "$dir" "$@" >/dev/null

identities=()
for name in "$@"; do
    case $name in
    broker-admin) role=admin ;;
    gateway*) role=gateway ;;
    collector*) role=collector ;;
    registrar*) role=registrar ;;
    bridge*) role=bridge ;;
    monitor*) role=monitor ;;
    *) role=agent ;;
    esac
    identities+=("$name:$role")
done

acl_template=$script_dir/acl
[[ $(cat "$dir/profile" 2>/dev/null) == site ]] && acl_template=$script_dir/acl-site
commands=$(EP_PREFIX=$prefix EP_IDENTITIES="${identities[*]}" EP_OUTPUT=commands awk -f "$script_dir/dynsec.awk" \
    "$acl_template")
response=$(mosquitto_rr -V 5 -h 127.0.0.1 -p "$port" --cafile "$dir/ca.crt" --cert "$dir/broker-admin.crt" \
    --key "$dir/broker-admin.key" -i "broker-admin" -q 1 -W 10 \
    -t '$CONTROL/dynamic-security/v1' -e '$CONTROL/dynamic-security/v1/response' -m "$commands") || {
    echo "error: no answer from the broker's dynamic security plugin on 127.0.0.1:$port" >&2
    exit 1
}
# Every command answers without "error", or with "... already exists" for a name the broker knows.
errors=$(grep -o '"error":"[^"]*"' <<<"$response" | grep -v 'already exists' || true)
if [[ -n $errors ]]; then
    echo "error: the broker refused: $errors" >&2
    exit 1
fi
echo "added to the broker on port $port: ${identities[*]}"
