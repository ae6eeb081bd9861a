#!/usr/bin/env bash
# Stops the swtpm started by tpm/start-swtpm.sh for STATE_DIR. Quiet success if none is running.
#
#   tpm/stop-swtpm.sh STATE_DIR
set -euo pipefail

usage() {
    echo "usage: $0 STATE_DIR" >&2
    exit 2
}

[[ $# -eq 1 ]] || usage
pid_file=$1/swtpm.pid
[[ -f $pid_file ]] || exit 0

pid=$(cat "$pid_file")
if ! [[ $pid =~ ^[0-9]+$ ]]; then
    echo "error: $pid_file does not hold a process id" >&2
    exit 1
fi

# True while $pid is a live swtpm: a stale pid file may name a process that reused the pid, and an exited
# daemon stays a zombie until its parent (often init) reaps it.
swtpm_alive() {
    local stat
    stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
    [[ $stat == "$pid (swtpm) "* && ${stat#*) } != Z* ]]
}

if swtpm_alive; then
    # TERM lets swtpm write its state; wait at most 10 s, then KILL that same pid.
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do
        swtpm_alive || break
        sleep 0.1
    done
    if swtpm_alive; then
        echo "warning: swtpm (pid $pid) did not exit within 10 s of SIGTERM; sending SIGKILL" >&2
        kill -KILL "$pid" 2>/dev/null || true
    fi
fi
rm -f "$pid_file"
