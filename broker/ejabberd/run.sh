#!/usr/bin/env bash
# Runs one process of a local ejabberd cluster in the foreground, for EdgeProof's tests and
# `edgeproof demo --cluster ejabberd` (Sources/EdgeProofLocalStack/EjabberdCluster.swift writes the
# configuration; see broker/README.md, "A clustered engine: ejabberd").
#
#   broker/ejabberd/run.sh epmd EPMD_PORT
#       the cluster's own Erlang port mapper on 127.0.0.1 (never the system's, port 4369)
#   broker/ejabberd/run.sh node NODE_DIR EPMD_PORT DIST_PORT
#       the node NAME@127.0.0.1, NAME = basename of NODE_DIR, with NODE_DIR/ejabberd.yml, its Mnesia
#       database in NODE_DIR/spool and its log in NODE_DIR/log; Erlang distribution on 127.0.0.1:DIST_PORT;
#       the cookie is NODE_DIR/../.erlang.cookie (mode 400)
#
# The pid of this script becomes the pid of epmd or of the node's beam.smp (exec), so the caller signals
# exactly that process: SIGTERM stops a node cleanly, SIGKILL crashes it.
set -euo pipefail

usage() {
    echo "usage: $0 epmd EPMD_PORT | $0 node NODE_DIR EPMD_PORT DIST_PORT" >&2
    exit 2
}
port_ok() { [[ $1 =~ ^[0-9]+$ ]] && ((1024 <= $1 && $1 <= 65535)); }

erlang_bin=/usr/lib/erlang/bin
ejabberd_libs=/usr/lib/x86_64-linux-gnu
[[ -x $erlang_bin/erl ]] || erlang_bin=$(dirname "$(command -v erl 2>/dev/null || echo /usr/bin/erl)")
[[ $# -ge 1 ]] || usage
command=$1
shift

case $command in
epmd)
    [[ $# -eq 1 ]] && port_ok "$1" || usage
    program=(epmd -port "$1" -address 127.0.0.1)
    identity_file=cmdline identity="-port"$'\n'"$1"
    ;;
node)
    [[ $# -eq 3 ]] && port_ok "$2" && port_ok "$3" || usage
    dir=$(cd "$1" && pwd -P)
    name=$(basename "$dir")
    [[ $name =~ ^[a-z][a-z0-9_-]*$ ]] || { echo "error: node name '$name' (from $dir) is not [a-z][a-z0-9_-]*" >&2; exit 2; }
    [[ -f $dir/ejabberd.yml ]] || { echo "error: $dir/ejabberd.yml not found" >&2; exit 1; }
    [[ -f $dir/../.erlang.cookie ]] || { echo "error: $dir/../.erlang.cookie not found" >&2; exit 1; }
    command -v erl >/dev/null || { echo "error: erl not found (scripts/install-deps.sh --with-ejabberd)" >&2; exit 1; }
    ls -d "$ejabberd_libs"/ejabberd-* >/dev/null 2>&1 ||
        { echo "error: ejabberd is not installed (scripts/install-deps.sh --with-ejabberd)" >&2; exit 1; }
    mkdir -p "$dir/spool" "$dir/log"
    # HOME holds the cookie; ERL_EPMD_PORT points node and peers at the cluster's own epmd.
    export HOME=$(cd "$dir/.." && pwd -P)
    export ERL_EPMD_PORT=$2
    export ERL_LIBS=$ejabberd_libs
    export EJABBERD_CONFIG_PATH=$dir/ejabberd.yml
    export EJABBERD_LOG_PATH=$dir/log/ejabberd.log
    export ERL_CRASH_DUMP=$dir/log/erl_crash.dump
    # +sbwt none: idle schedulers sleep instead of spinning, which would take CPU from everything beside the node.
    program=(erl -name "$name@127.0.0.1" -noinput -noshell +K true +sbwt none +sbwtdcpu none +sbwtdio none
        -start_epmd false
        -kernel inet_dist_use_interface "{127,0,0,1}" inet_dist_listen_min "$3" inet_dist_listen_max "$3"
        -mnesia dir "\"$dir/spool\"" -s ejabberd)
    identity_file=environ identity="EJABBERD_CONFIG_PATH=$EJABBERD_CONFIG_PATH"
    ;;
*)
    usage
    ;;
esac

# For test fixtures: when the process EDGEPROOF_BROKER_WATCH_PID exits without stopping this process (a
# crashed or killed test run), stop it, if that pid still runs what this script started.
if [[ -n ${EDGEPROOF_BROKER_WATCH_PID:-} && $EDGEPROOF_BROKER_WATCH_PID =~ ^[0-9]+$ ]]; then
    watch_pid=$EDGEPROOF_BROKER_WATCH_PID own_pid=$$
    (
        # Keep no descriptor of the child's (Foundation's Process learns of its exit from the pipe's close).
        for fd in /proc/$BASHPID/fd/*; do
            fd=${fd##*/}
            [[ $fd =~ ^[0-9]+$ ]] && ((fd > 2)) && { eval "exec $fd>&-" 2>/dev/null || true; }
        done
        while kill -0 "$watch_pid" 2>/dev/null && [[ -e /proc/$own_pid ]]; do sleep 1; done
        if tr '\0' '\n' <"/proc/$own_pid/$identity_file" 2>/dev/null | grep -qxF -- "${identity%%$'\n'*}" &&
            { [[ $identity != *$'\n'* ]] || tr '\0' '\n' <"/proc/$own_pid/$identity_file" | grep -qxF -- "${identity#*$'\n'}"; }; then
            kill -TERM "$own_pid" 2>/dev/null
        fi
    ) </dev/null >/dev/null 2>&1 &
fi

# Start with an empty signal mask (test threads block SIGTERM, and children inherit the mask); the pid
# stays the same through both execs.
exec perl -MPOSIX -e 'sigprocmask(SIG_SETMASK, POSIX::SigSet->new) or die "sigprocmask: $!\n";
    exec { $ARGV[0] } @ARGV or die "exec $ARGV[0]: $!\n"' "${program[@]}"
