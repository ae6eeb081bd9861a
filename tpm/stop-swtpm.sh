#!/usr/bin/env bash
# Stops the swtpm started by tpm/start-swtpm.sh for STATE_DIR. Quiet success if none is running.
#
#   tpm/stop-swtpm.sh STATE_DIR
#
# First an orderly TPM2_Shutdown(CLEAR) through tpm2_shutdown, as an operating system sends before power
# off: swtpm 0.7 sends none itself, neither on SIGTERM nor on `swtpm_ioctl -s` (CMD_SHUTDOWN only ends
# the TPM library), and the TPM counts every start after a shutdown without one as a possible attack on
# the DA-protected objects used before it (TPM_PT_LOCKOUT_COUNTER + 1, lockout at 3 on swtpm). Then
# SIGTERM to the pid in STATE_DIR/swtpm.pid.
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

# The server port of this swtpm, from its own command line (--server type=tcp,port=N,...).
server_port() {
    # swtpm may exit meanwhile: no cmdline is no port, never an error (set -e would skip the stop below).
    { tr '\0' '\n' <"/proc/$pid/cmdline"; } 2>/dev/null | sed -n 's/^type=tcp,port=\([0-9]\{1,5\}\).*/\1/p' | head -n 1 || true
}

orderly_shutdown() {
    local port
    port=$(server_port || true)
    if [[ -z $port ]]; then
        echo "warning: cannot find the server port of swtpm (pid $pid); stopping it without TPM2_Shutdown" >&2
        return 0
    fi
    if ! command -v tpm2_shutdown >/dev/null; then
        echo "warning: tpm2_shutdown not found (apt-get install tpm2-tools); stopping swtpm without TPM2_Shutdown" >&2
        return 0
    fi
    local output
    if ! output=$(TPM2TOOLS_TCTI="swtpm:host=127.0.0.1,port=$port" TSS2_LOG=all+none \
        timeout 10 tpm2_shutdown --clear 2>&1); then
        echo "warning: TPM2_Shutdown failed, stopping swtpm anyway: ${output:-timed out}" >&2
    fi
}

if swtpm_alive; then
    orderly_shutdown
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
