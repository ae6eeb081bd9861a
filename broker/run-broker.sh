#!/usr/bin/env bash
# Runs a mosquitto broker for EdgeProof in the foreground: mutual TLS on 127.0.0.1:PORT, state in DIR.
#
#   broker/run-broker.sh [OPTIONS] DIR PORT   render DIR/mosquitto.conf and DIR/dynsec.json, then exec mosquitto
#
# Options:
#   --render-only        only render (a running broker needs a restart to use them)
#   --profile central    (default) the central broker: gateways, collectors, registrars, site bridges (broker/acl)
#   --profile site       a site broker: the site's agents and its bridging gateway (broker/acl-site)
#   --listen ADDRESS     the listener's address (default 127.0.0.1; a site broker may listen on its LAN
#                        address, with a server certificate valid for it)
#
# DIR holds the certificates made by broker/gen-certs.sh (ca.crt, server.crt, server.key and one
# NAME.crt per client). The access rules are those of broker/acl, written for every client certificate
# present as a client and role of mosquitto's dynamic security plugin (which, unlike acl_file, refuses
# a SUBSCRIBE the identity may not read), by CN: gateway* = gateway, collector* = collector,
# registrar* = registrar, bridge* = bridge, monitor* = monitor (read-only), anything else = agent. See broker/README.md.
# The topic prefix is edgeproof/v1 unless EDGEPROOF_TOPIC_PREFIX says otherwise.
#
# mosquitto replaces this script's process (exec), so the caller's child pid is the broker's pid:
# stop it with `kill -TERM <pid>`. Persistence: DIR/data/. Log: DIR/mosquitto.log and stderr.
# Extra configuration (e.g. a bridge): DIR/conf.d/*.conf, included as written.
set -euo pipefail
export LC_ALL=C

usage() {
    echo "usage: $0 [--render-only] [--profile central|site] [--listen ADDRESS] DIR PORT" >&2
    exit 2
}

render_only=false
profile=central
listen=127.0.0.1
while [[ ${1:-} == --* ]]; do
    case $1 in
    --render-only) render_only=true; shift ;;
    --profile) [[ ${2:-} == central || ${2:-} == site ]] || usage; profile=$2; shift 2 ;;
    --listen)
        [[ ${2:-} =~ ^[0-9A-Za-z.:_-]+$ ]] || usage
        listen=$2
        shift 2
        ;;
    *) usage ;;
    esac
done
[[ $# -eq 2 ]] || usage
[[ $2 =~ ^[0-9]+$ ]] && (($2 > 0 && $2 < 65536)) || usage
port=$2

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
[[ -d $1 ]] || { echo "error: $1 is not a directory (create it with broker/gen-certs.sh $1 NAME...)" >&2; exit 1; }
dir=$(cd "$1" && pwd -P)
# mosquitto.conf and the ACL file split values at whitespace.
if [[ $dir =~ [[:space:]] ]]; then
    echo "error: the broker directory path must not contain whitespace: '$dir'" >&2
    exit 1
fi

for file in ca.crt server.crt server.key; do
    if [[ ! -f $dir/$file ]]; then
        echo "error: $dir/$file is missing; create the certificates with broker/gen-certs.sh $dir NAME..." >&2
        exit 1
    fi
done

prefix=${EDGEPROOF_TOPIC_PREFIX:-edgeproof/v1}
while [[ $prefix == */ ]]; do prefix=${prefix%/}; done
# Topic levels of letters, digits, ".", "_", "-": no wildcards, no "$", nothing the ACL parser splits.
if ! [[ $prefix =~ ^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$ ]]; then
    echo "error: EDGEPROOF_TOPIC_PREFIX '$prefix' must be topic levels of [A-Za-z0-9._-] separated by '/'" >&2
    exit 1
fi

if [[ $EUID -eq 0 ]]; then
    run_user=root # mosquitto would otherwise drop to "mosquitto", which cannot read the mode-700 DIR
else
    run_user=$(id -un 2>/dev/null || echo nobody) # without root, mosquitto ignores this setting
fi

# broker-admin may change the access rules of the running broker through the dynamic security
# plugin's control topic (broker/add-clients.sh). Made here when the CA key is at hand.
if [[ ! -f $dir/broker-admin.crt && -f $dir/ca.key ]]; then
    "$script_dir/gen-certs.sh" "$dir" broker-admin >/dev/null
fi

# The client identities in DIR, by role; each becomes a client of the dynamic security plugin.
name_pattern='^[A-Za-z0-9_][A-Za-z0-9._-]{0,63}$'
gateways=() collectors=() registrars=() bridges=() monitors=() agents=() identities=()
shopt -s nullglob
for crt in "$dir"/*.crt; do
    base=${crt##*/}
    base=${base%.crt}
    [[ $base == ca || $base == server ]] && continue
    # An agent: its file name is its CN (gen-certs.sh names every file so) and it needs no block of its own,
    # so no openssl here: start-up must not grow with the number of agents (two openssl processes cost
    # some 50 ms a certificate). A file named otherwise than its CN only makes a client nobody can be:
    # mosquitto checks every certificate against ca.crt at the handshake and takes the CN as the identity,
    # and an identity without a client is refused every PUBLISH, SUBSCRIBE and delivery.
    if [[ $base =~ $name_pattern && ! $base =~ ^(broker-admin|gateway|collector|registrar|bridge|monitor) ]]; then
        agents+=("$base")
        identities+=("$base:agent")
        continue
    fi
    subject=$(openssl x509 -in "$crt" -noout -subject -nameopt RFC2253 2>/dev/null) || {
        echo "warning: skipping $crt: not a PEM certificate" >&2
        continue
    }
    cn=$(sed -n 's/^subject=.*CN=\([^,]*\).*$/\1/p' <<<"$subject")
    if ! [[ $cn =~ $name_pattern ]]; then
        echo "warning: skipping $crt: CN '$cn' is not a valid EdgeProof identity" >&2
        continue
    fi
    if ! openssl verify -CAfile "$dir/ca.crt" "$crt" >/dev/null 2>&1; then
        echo "warning: skipping $crt: not valid under $dir/ca.crt (the broker would refuse it anyway)" >&2
        continue
    fi
    if [[ $profile == site && $cn =~ ^(gateway|collector|registrar) ]]; then
        echo "warning: skipping $crt: a site broker has no $cn (gateways, collectors and registrars use the central broker)" >&2
        continue
    fi
    case $cn in
    broker-admin) role=admin ;;
    gateway*) gateways+=("$cn") role=gateway ;;
    collector*) collectors+=("$cn") role=collector ;;
    registrar*) registrars+=("$cn") role=registrar ;;
    bridge*) bridges+=("$cn") role=bridge ;;
    monitor*) monitors+=("$cn") role=monitor ;;
    *) agents+=("$cn") role=agent ;;
    esac
    identities+=("$cn:$role")
done

# The dynamic security plugin of the mosquitto package (Debian: /usr/lib/<triplet>/).
dynsec_plugin=${EDGEPROOF_DYNSEC_PLUGIN:-}
if [[ -z $dynsec_plugin ]]; then
    for candidate in /usr/lib/*/mosquitto_dynamic_security.so /usr/lib/mosquitto_dynamic_security.so \
        /usr/local/lib/mosquitto_dynamic_security.so; do
        [[ -f $candidate ]] && { dynsec_plugin=$candidate; break; }
    done
fi
if [[ -z $dynsec_plugin || ! -f $dynsec_plugin ]]; then
    echo "error: mosquitto_dynamic_security.so not found (mosquitto >= 2.0 ships it; or set EDGEPROOF_DYNSEC_PLUGIN)" >&2
    exit 1
fi

mkdir -p "$dir/data" "$dir/conf.d"
chmod 700 "$dir/data" "$dir/conf.d"

# Literal (not regular-expression) replacement of every placeholder; values come from ENVIRON so
# that awk does not interpret backslashes in them.
render() { # TEMPLATE OUTPUT
    local tmp
    tmp=$(mktemp "$2.XXXXXX")
    EP_DIR=$dir EP_PORT=$port EP_LISTEN=$listen EP_USER=$run_user EP_PREFIX=$prefix EP_DYNSEC_PLUGIN=$dynsec_plugin \
        EP_GATEWAYS="${gateways[*]}" EP_COLLECTORS="${collectors[*]}" EP_REGISTRARS="${registrars[*]}" EP_BRIDGES="${bridges[*]}" EP_MONITORS="${monitors[*]}" \
        awk '
        function replace_all(text, from, to,    out, at) {
            out = ""
            while ((at = index(text, from)) > 0) {
                out = out substr(text, 1, at - 1) to
                text = substr(text, at + length(from))
            }
            return out text
        }
        function fill(line) {
            line = replace_all(line, "@DIR@", ENVIRON["EP_DIR"])
            line = replace_all(line, "@PORT@", ENVIRON["EP_PORT"])
            line = replace_all(line, "@LISTEN@", ENVIRON["EP_LISTEN"])
            line = replace_all(line, "@USER@", ENVIRON["EP_USER"])
            line = replace_all(line, "@DYNSEC_PLUGIN@", ENVIRON["EP_DYNSEC_PLUGIN"])
            return replace_all(line, "@PREFIX@", ENVIRON["EP_PREFIX"])
        }
        BEGIN {
            names["gateway"] = ENVIRON["EP_GATEWAYS"]
            names["collector"] = ENVIRON["EP_COLLECTORS"]
            names["registrar"] = ENVIRON["EP_REGISTRARS"]
            names["bridge"] = ENVIRON["EP_BRIDGES"]
            names["monitor"] = ENVIRON["EP_MONITORS"]
        }
        /^#@role / { role = $2; count = 0; next }
        /^#@end/ {
            n = split(names[role], list, " ")
            if (n == 0) print "# (no " role " certificates in the broker directory)"
            for (i = 1; i <= n; i++) {
                for (j = 1; j <= count; j++) print replace_all(fill(block[j]), "@NAME@", list[i])
                if (i < n) print ""
            }
            role = ""
            next
        }
        role != "" { block[++count] = $0; next }
        { print fill($0) }
        ' "$1" >"$tmp"
    chmod 600 "$tmp"
    mv "$tmp" "$2" # atomic: a reload never reads half a file
}

# The rules of broker/acl as the dynamic security plugin's configuration: one client and one role per
# identity. A deny becomes a deny of the highest priority for publishing, receiving and subscribing; a
# read grant allows receiving and subscribing to filters inside it (plain or $share/<any group>/); a
# write grant allows publishing; the patterns (%u, %c = the CN) are written out for every identity.
render_dynsec() { # TEMPLATE OUTPUT
    local tmp
    tmp=$(mktemp "$2.XXXXXX")
    # Through a file: thousands of agents would not fit into one environment variable.
    local list
    list=$(mktemp "$2.identities.XXXXXX")
    printf '%s\n' "${identities[@]}" >"$list"
    if ! EP_PREFIX=$prefix EP_IDENTITIES_FILE=$list awk -f "$script_dir/dynsec.awk" "$1" >"$tmp"; then
        rm -f "$tmp" "$list"
        exit 1
    fi
    rm -f "$list"
    chmod 600 "$tmp"
    mv "$tmp" "$2"
}

render "$script_dir/mosquitto.conf" "$dir/mosquitto.conf"
acl_template=$script_dir/acl
[[ $profile == site ]] && acl_template=$script_dir/acl-site
render_dynsec "$acl_template" "$dir/dynsec.json"
echo "$profile" >"$dir/profile" # broker/add-clients.sh adds identities under the same rules
rm -f "$dir/acl" # rendered by earlier versions; no longer read

summary="profile $profile; prefix $prefix; gateways: ${gateways[*]:-none}; collectors: ${collectors[*]:-none}; bridges: ${bridges[*]:-none}; monitors: ${monitors[*]:-none}; agents: ${agents[*]:-none}"
if $render_only; then
    echo "rendered $dir/mosquitto.conf and $dir/dynsec.json ($summary)"
    exit 0
fi

# Debian installs mosquitto in /usr/sbin, which is not on every user's PATH.
mosquitto=$(command -v mosquitto || true)
[[ -n $mosquitto || ! -x /usr/sbin/mosquitto ]] || mosquitto=/usr/sbin/mosquitto
[[ -n $mosquitto ]] || { echo "error: mosquitto not found (apt-get install mosquitto)" >&2; exit 1; }
echo "run-broker: mosquitto on $listen:$port, $summary" >&2

# For test fixtures: when the process EDGEPROOF_BROKER_WATCH_PID exits without stopping the broker
# (a crashed or killed test run), stop it. Only this broker: the pid must still run DIR's config.
if [[ -n ${EDGEPROOF_BROKER_WATCH_PID:-} ]]; then
    watch_pid=$EDGEPROOF_BROKER_WATCH_PID broker_pid=$$ conf=$dir/mosquitto.conf
    if [[ $watch_pid =~ ^[0-9]+$ ]]; then
        (
            # Keep no descriptor of the broker's: Foundation's Process, for one, learns that its child
            # exited when the last copy of a socket the child inherited is closed.
            for fd in /proc/$BASHPID/fd/*; do
                fd=${fd##*/}
                [[ $fd =~ ^[0-9]+$ ]] && ((fd > 2)) && { eval "exec $fd>&-" 2>/dev/null || true; }
            done
            while kill -0 "$watch_pid" 2>/dev/null && [[ -e /proc/$broker_pid ]]; do sleep 1; done
            if [[ "$(tr '\0' ' ' <"/proc/$broker_pid/cmdline" 2>/dev/null)" == "$mosquitto -c $conf " ]]; then
                kill -TERM "$broker_pid" 2>/dev/null
            fi
        ) </dev/null >/dev/null 2>&1 &
    fi
fi

# mosquitto 2.0 restores the signal mask it inherited whenever it is not waiting for events, so a
# parent that blocks SIGTERM and SIGHUP (threads of libdispatch do, and Foundation's Process passes
# the mask on) would leave a broker that ignores both. Start it with an empty mask (perl-base is
# Essential in Debian); the pid stays the same through both execs.
if command -v perl >/dev/null; then
    exec perl -MPOSIX -e 'sigprocmask(SIG_SETMASK, POSIX::SigSet->new) or die "sigprocmask: $!\n";
        exec { $ARGV[0] } @ARGV or die "exec $ARGV[0]: $!\n"' "$mosquitto" -c "$dir/mosquitto.conf"
fi
exec "$mosquitto" -c "$dir/mosquitto.conf"
