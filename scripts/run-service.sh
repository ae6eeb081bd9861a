#!/usr/bin/env bash
# Runs a program in the foreground as a child process (EdgeProofLocalStack's ComponentProcess, which the
# benches use and tests use as ServiceProcess):
#
#   scripts/run-service.sh PROGRAM [ARGUMENT...]
#
# The script `exec`s PROGRAM, so the caller's child pid is the program's pid and signals sent to that
# pid reach it. Two things a test needs that a plain Foundation `Process` does not give:
#
# - An empty signal mask. Threads of libdispatch block SIGTERM and friends, Foundation's Process
#   passes the mask on, and swift-service-lifecycle (or mosquitto) would then never see SIGTERM.
#   perl resets it (perl-base is Essential in Debian); the pid stays the same through both execs.
# - A safety net: with EDGEPROOF_WATCH_PID set, a small watcher stops PROGRAM (SIGTERM, then SIGKILL
#   after 5 s) when that process (the test runner) exits without stopping it. Only this program: the
#   watched pid must still run the same command line, so a reused pid is left alone.
#   Not prctl(PR_SET_PDEATHSIG) (`setpriv --pdeathsig`): it fires when the *thread* that forked the
#   child ends, and the Swift runtime's pool threads that call Process.run() come and go.
set -euo pipefail

[[ $# -ge 1 ]] || { echo "usage: $0 PROGRAM [ARGUMENT...]" >&2; exit 2; }
program=$1
[[ -x $program ]] || program=$(command -v "$program") || { echo "error: $1 not found" >&2; exit 127; }
shift

if [[ -n ${EDGEPROOF_WATCH_PID:-} && ${EDGEPROOF_WATCH_PID} =~ ^[0-9]+$ ]]; then
    watch_pid=$EDGEPROOF_WATCH_PID service_pid=$$
    expected=$(printf '%s ' "$program" "$@")
    (
        # Keep no descriptor of the service's (Foundation's Process learns that a child exited when
        # the last copy of a pipe it inherited is closed).
        for fd in /proc/$BASHPID/fd/*; do
            fd=${fd##*/}
            [[ $fd =~ ^[0-9]+$ ]] && ((fd > 2)) && { eval "exec $fd>&-" 2>/dev/null || true; }
        done
        same() { [[ "$(tr '\0' ' ' <"/proc/$service_pid/cmdline" 2>/dev/null)" == "$expected" ]]; }
        # Wait until the exec below has happened (the command line is then the service's).
        for _ in $(seq 50); do same && break; sleep 0.1; done
        while kill -0 "$watch_pid" 2>/dev/null && same; do sleep 1; done
        if same && ! kill -0 "$watch_pid" 2>/dev/null; then
            kill -TERM "$service_pid" 2>/dev/null || exit 0
            for _ in $(seq 50); do same || exit 0; sleep 0.1; done
            same && kill -KILL "$service_pid" 2>/dev/null
        fi
    ) </dev/null >/dev/null 2>&1 &
fi

exec perl -MPOSIX -e 'sigprocmask(SIG_SETMASK, POSIX::SigSet->new) or die "sigprocmask: $!\n";
    exec { $ARGV[0] } @ARGV or die "exec $ARGV[0]: $!\n"' "$program" "$@"
