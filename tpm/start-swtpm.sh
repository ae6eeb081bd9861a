#!/usr/bin/env bash
# Starts a software TPM 2.0 (swtpm) listening on 127.0.0.1 only and prints its TCTI string.
#
#   tpm/start-swtpm.sh STATE_DIR SERVER_PORT CTRL_PORT      (CTRL_PORT = SERVER_PORT + 1)
#
# The TPM state (keys, persistent handles) lives in STATE_DIR and survives restarts.
# Stop it with tpm/stop-swtpm.sh STATE_DIR.
set -euo pipefail

usage() {
    echo "usage: $0 STATE_DIR SERVER_PORT CTRL_PORT" >&2
    exit 2
}

[[ $# -eq 3 ]] || usage
state_dir=$1
server_port=$2
ctrl_port=$3
for port in "$server_port" "$ctrl_port"; do
    [[ $port =~ ^[0-9]{1,5}$ ]] && ((port > 0 && port < 65536)) || usage
done
# libtss2's swtpm TCTI takes only the server port and finds the control channel at port + 1; with any
# other control port every client fails with "Failed to instantiate TCTI".
if ((ctrl_port != server_port + 1)); then
    echo "error: CTRL_PORT must be SERVER_PORT + 1 ($((server_port + 1))): the TSS swtpm TCTI expects it there" >&2
    exit 2
fi

command -v swtpm >/dev/null || { echo "error: swtpm not found (apt-get install swtpm swtpm-tools)" >&2; exit 1; }

mkdir -p "$state_dir"
pid_file=$state_dir/swtpm.pid
log_file=$state_dir/swtpm.log

# A pid file naming a live swtpm means this state is in use (two TPMs on one state would corrupt it).
if [[ -f $pid_file ]]; then
    pid=$(cat "$pid_file")
    if [[ $pid =~ ^[0-9]+$ ]] && stat=$(cat "/proc/$pid/stat" 2>/dev/null) \
        && [[ $stat == "$pid (swtpm) "* && ${stat#*) } != Z* ]]; then
        echo "error: swtpm already running for $state_dir (pid $pid)" >&2
        exit 1
    fi
fi
rm -f "$pid_file"

# Start swtpm with a clean slate, whoever started this script:
# - an empty signal mask: a parent such as a Swift program spawning from a libdispatch thread passes on a
#   mask that blocks SIGTERM, and stop-swtpm.sh could not stop the daemon;
# - no inherited descriptors beyond 0-2: Foundation's Process learns that this script exited when a
#   socket it passed down is closed, and the daemon would otherwise hold that socket for its lifetime.
clean_exec() {
    perl -MPOSIX -e '
        sigprocmask(SIG_SETMASK, POSIX::SigSet->new) or die "sigprocmask: $!\n";
        opendir(my $dir, "/proc/self/fd") or die "/proc/self/fd: $!\n";
        my @inherited = grep { /^\d+$/ && $_ > 2 } readdir($dir);
        closedir($dir);
        POSIX::close($_) for @inherited;
        exec { $ARGV[0] } @ARGV or die "exec $ARGV[0]: $!\n";
    ' "$@"
}

# For test fixtures: when the process EDGEPROOF_SWTPM_WATCH_PID exits without stopping this TPM (a
# crashed or killed test run), stop it. Only this daemon: the pid must still be swtpm on STATE_DIR.
start_watcher() {
    local watch_pid=${EDGEPROOF_SWTPM_WATCH_PID:-}
    [[ $watch_pid =~ ^[0-9]+$ && -f $pid_file ]] || return 0
    local tpm_pid
    tpm_pid=$(cat "$pid_file")
    [[ $tpm_pid =~ ^[0-9]+$ ]] || return 0
    (
        # Keep none of this script's descriptors: the caller waits for its pipes to close.
        for fd in /proc/$BASHPID/fd/*; do
            fd=${fd##*/}
            [[ $fd =~ ^[0-9]+$ ]] && ((fd > 2)) && { eval "exec $fd>&-" 2>/dev/null || true; }
        done
        while kill -0 "$watch_pid" 2>/dev/null && [[ -e /proc/$tpm_pid ]]; do sleep 1; done
        if tr '\0' ' ' <"/proc/$tpm_pid/cmdline" 2>/dev/null | grep -qF -- "dir=$state_dir "; then
            kill -TERM "$tpm_pid" 2>/dev/null
        fi
    ) </dev/null >/dev/null 2>&1 &
}

# not-need-init + startup-clear: the TPM is usable right away, without a CMD_INIT on the control
# channel or a TPM2_Startup from the client.
if ! clean_exec swtpm socket --tpm2 \
    --server "type=tcp,port=$server_port,bindaddr=127.0.0.1" \
    --ctrl "type=tcp,port=$ctrl_port,bindaddr=127.0.0.1" \
    --tpmstate "dir=$state_dir" \
    --flags not-need-init,startup-clear \
    --pid "file=$pid_file" \
    --log "file=$log_file" \
    --daemon; then
    echo "error: swtpm failed to start; log $log_file:" >&2
    tail -n 20 "$log_file" >&2 2>/dev/null || true
    exit 1
fi

# The daemon may still be setting up; wait (at most 10 s) until the server port accepts.
for _ in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$server_port") 2>/dev/null; then
        start_watcher
        echo "swtpm:host=127.0.0.1,port=$server_port"
        exit 0
    fi
    sleep 0.1
done

echo "error: swtpm did not accept connections on 127.0.0.1:$server_port within 10 s; log $log_file:" >&2
tail -n 20 "$log_file" >&2 2>/dev/null || true
if [[ -f $pid_file ]]; then
    kill -TERM "$(cat "$pid_file")" 2>/dev/null || true
    rm -f "$pid_file"
fi
exit 1
