#!/usr/bin/env bash
# Throughput and latency of wgd against the other userspace WireGuards, measured in the
# same run on the same topology, in alternating rounds: wgd, upstream wireguard-go
# 0.0.20250522 (the speed to beat; $WG_GO_UPSTREAM, default ../shared/bench/...),
# Debian's wireguard-go (the 2022 package) and boringtun-cli (cargo install
# boringtun-cli). Prints medians of every figure and the ratios to upstream
# wireguard-go (to Debian's when the upstream build is not there). A reference that is
# not installed is skipped with a note; wgd always runs.
#
#   ns wgbA                         veth 10.200.0.0/24                         ns wgbB
#   tunnel 10.201.0.1  ==  UDP 10.200.0.1:7111  <------>  10.200.0.2:7222  ==  tunnel 10.201.0.2
#
# Usage (root): bench/tunnel.sh [-p none|split] [-O offloads] [-t threads] [-m all|ping]
#                               [rounds] [seconds]
#   (defaults: 3 rounds of 5 s; -p split pins side A's daemon and iperf3 client to CPU 0
#   and side B's to CPU 1; -O is passed to wgd to turn offloads off, -t sets wgd's
#   data threads, one per CPU by default; -m ping measures only the ping, $PINGS of
#   them (default 500) at 10 ms, and the CPU time both daemons spent per ping)
# BENCH_IMPLS="wgd go2025" limits the implementations run.
set -euo pipefail
cd "$(dirname "$0")/.."
PIN=none
MODE=all
WGD_OPTS=()
while getopts "p:O:t:m:" opt; do
    case $opt in
        p) PIN=$OPTARG ;;
        O) WGD_OPTS+=(-O "$OPTARG") ;;
        t) WGD_OPTS+=(-t "$OPTARG") ;;
        m) MODE=$OPTARG ;;
        *) echo "usage: bench/tunnel.sh [-p none|split] [-O offloads] [-t threads] [-m all|ping] [rounds] [seconds]" >&2; exit 2 ;;
    esac
done
shift $((OPTIND - 1))
case $MODE in all|ping) ;; *) echo "bench: -m all or -m ping" >&2; exit 2 ;; esac
PINGS=${PINGS:-500}
ROUNDS=${1:-3}
SECS=${2:-5}
for t in iperf3 wg ip python3 ping; do
    command -v $t >/dev/null || { echo "bench: needs $t" >&2; exit 1; }
done
UPSTREAM=${WG_GO_UPSTREAM:-../shared/bench/wireguard-go-20250522}
BORINGTUN=${BORINGTUN:-$(command -v boringtun-cli || echo "$HOME/.cargo/bin/boringtun-cli")}
IMPLS=(wgd)
if [ -x "$UPSTREAM" ]; then IMPLS+=(go2025); else echo "bench: no upstream wireguard-go at $UPSTREAM, skipped" >&2; fi
if command -v wireguard-go >/dev/null; then IMPLS+=(godeb); else echo "bench: no Debian wireguard-go, skipped" >&2; fi
if [ -x "$BORINGTUN" ]; then IMPLS+=(boringtun); else echo "bench: no boringtun-cli, skipped" >&2; fi
if [ -n "${BENCH_IMPLS:-}" ]; then read -r -a IMPLS <<< "$BENCH_IMPLS"; fi
cargo build --release --bins --quiet
BIN=$PWD/target/release
A=wgbA$$; B=wgbB$$
TMP=$(mktemp -d)
PIDS=()
cleanup() {
    set +e
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
    ip netns del $A 2>/dev/null; ip netns del $B 2>/dev/null
    rm -f /var/run/wireguard/wgb$$A.sock /var/run/wireguard/wgb$$B.sock
    rm -rf "$TMP"
}
trap cleanup EXIT
ip netns add $A; ip netns add $B
ip -n $A link set lo up; ip -n $B link set lo up
ip link add vA netns $A type veth peer name vB netns $B
ip -n $A addr add 10.200.0.1/24 dev vA; ip -n $B addr add 10.200.0.2/24 dev vB
ip -n $A link set vA up; ip -n $B link set vB up
KA=$(wg genkey); KB=$(wg genkey)
PA=$(echo "$KA" | wg pubkey); PB=$(echo "$KB" | wg pubkey)
echo "$KA" > "$TMP/ka"; echo "$KB" > "$TMP/kb"

# pin SIDE: the taskset prefix for side A (CPU 0) or B (CPU 1) under -p split.
pin() {
    if [ "$PIN" = split ]; then
        if [ "$1" = A ]; then echo "taskset -c 0"; else echo "taskset -c 1"; fi
    fi
}

start_wgd() {
    for side in A B; do
        ns=${!side}
        $(pin $side) nsenter --net=/run/netns/$ns "$BIN/wgd" "${WGD_OPTS[@]}" -s "$TMP/$side.sock" --netns-prefix "wgb$$$side" 2>/dev/null &
        PIDS+=($!)
    done
    for _ in $(seq 100); do [ -S "$TMP/A.sock" ] && [ -S "$TMP/B.sock" ] && break; sleep 0.1; done
    WGD_SOCKET=$TMP/A.sock "$BIN/wgifconfig" wg1 create wgport 7111 wgkey "$KA" \
        wgpeer "$PB" wgendpoint 10.200.0.2 7222 wgaip 10.201.0.2/32
    WGD_SOCKET=$TMP/A.sock "$BIN/wgifconfig" wg1 10.201.0.1/24
    WGD_SOCKET=$TMP/B.sock "$BIN/wgifconfig" wg1 create wgport 7222 wgkey "$KB" \
        wgpeer "$PA" wgendpoint 10.200.0.1 7111 wgaip 10.201.0.1/32
    WGD_SOCKET=$TMP/B.sock "$BIN/wgifconfig" wg1 10.201.0.2/24
    IF=wg1
}

# start_uapi CMD...: a daemon configured over its UAPI socket with wg(8), one per side.
start_uapi() {
    for side in A B; do
        ns=${!side}
        # UAPI sockets live in /var/run/wireguard, shared by all namespaces: one name each.
        WG_PROCESS_FOREGROUND=1 WG_SUDO=1 $(pin $side) ip netns exec $ns "$@" wgb$$$side >/dev/null 2>&1 &
        PIDS+=($!)
    done
    for _ in $(seq 100); do
        ip netns exec $A wg show wgb$$A >/dev/null 2>&1 && ip netns exec $B wg show wgb$$B >/dev/null 2>&1 && break
        sleep 0.1
    done
    ip netns exec $A wg set wgb$$A listen-port 7111 private-key "$TMP/ka" peer "$PB" endpoint 10.200.0.2:7222 allowed-ips 10.201.0.2/32
    ip netns exec $B wg set wgb$$B listen-port 7222 private-key "$TMP/kb" peer "$PA" endpoint 10.200.0.1:7111 allowed-ips 10.201.0.1/32
    ip -n $A addr add 10.201.0.1/24 dev wgb$$A; ip -n $B addr add 10.201.0.2/24 dev wgb$$B
    ip -n $A link set wgb$$A mtu 1420 up; ip -n $B link set wgb$$B mtu 1420 up
}

start_impl() {
    case $1 in
        wgd) start_wgd ;;
        go2025) start_uapi "$(realpath "$UPSTREAM")" -f ;;
        godeb) start_uapi wireguard-go -f ;;
        boringtun) start_uapi "$BORINGTUN" -f --disable-drop-privileges ;;
    esac
}

stop_all() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null || true; done
    PIDS=()
    for _ in $(seq 50); do
        ip -n $A link show wg1 >/dev/null 2>&1 || ip -n $B link show wg1 >/dev/null 2>&1 ||
            ip -n $A link show wgb$$A >/dev/null 2>&1 || ip -n $B link show wgb$$B >/dev/null 2>&1 || break
        sleep 0.1
    done
    rm -f /var/run/wireguard/wgb$$A.sock /var/run/wireguard/wgb$$B.sock
}

iperf_server() { # $1: log name
    $(pin B) ip netns exec $B iperf3 -s -D -1 -B 10.201.0.2 --logfile "$TMP/$1"
    for _ in $(seq 50); do ip netns exec $B ss -ltn 2>/dev/null | grep -q ':5201 ' && break; sleep 0.1; done
}

# Receiver packets per second of an unlimited-rate UDP run with $1-byte payloads.
udp_pps() {
    iperf_server "su$1"
    $(pin A) ip netns exec $A iperf3 -c 10.201.0.2 -u -b 0 -l "$1" -t "$SECS" -J 2>/dev/null | python3 -c '
import json, sys
# "packets" of sum_received counts up to the highest sequence number seen, lost ones
# included; the bytes are what really arrived.
s = json.load(sys.stdin)["end"]["sum_received"]
print(s["bytes"] / int(sys.argv[1]) / s["seconds"] / 1e3)' "$1"
}

tcp_gbps() { # $1: parallel streams
    iperf_server "s$1"
    $(pin A) ip netns exec $A iperf3 -c 10.201.0.2 -t "$SECS" -P "$1" -J |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"]/1e9)'
}

# CPU time (every thread, from schedstat) of the daemons started for this round, in µs.
daemon_cpu_us() {
    cat /proc/"${PIDS[0]}"/task/*/schedstat /proc/"${PIDS[1]}"/task/*/schedstat 2>/dev/null |
        awk '{t += $1} END {printf "%d\n", t / 1000}'
}

# Per thread of both daemons: name, CPU µs and context switches (BENCH_THREADS=1).
thread_table() {
    local p t
    for p in "${PIDS[@]}"; do
        for t in /proc/"$p"/task/*; do
            echo "$p/${t##*/}/$(tr ' ' _ < "$t/comm") $(awk '{print $1}' "$t/schedstat") $(awk '/^voluntary_ctxt_switches/{v=$2} /^nonvoluntary_ctxt_switches/{n=$2} END {print v, n}' "$t/status")"
        done
    done
}

measure_ping() { # prints: ping_ms daemon_cpu_us_per_ping
    for _ in $(seq 50); do ip netns exec $A ping -c1 -W1 10.201.0.2 >/dev/null 2>&1 && break; done
    local c0 c1 p
    c0=$(daemon_cpu_us)
    [ -z "${BENCH_THREADS:-}" ] || thread_table > "$TMP/threads0"
    p=$(ip netns exec $A ping -c "$PINGS" -i 0.01 -q 10.201.0.2 | awk -F/ '/rtt/{print $5}')
    c1=$(daemon_cpu_us)
    if [ -n "${BENCH_THREADS:-}" ]; then
        thread_table > "$TMP/threads1"
        # pid/tid/name: CPU µs, voluntary and involuntary switches, per ping
        join <(sort "$TMP/threads0") <(sort "$TMP/threads1") |
            awk -v n="$PINGS" '{printf "  %-32s cpu %6.1f us  vol %5.2f  invol %5.2f per ping\n", $1, ($5-$2)/1000/n, ($6-$3)/n, ($7-$4)/n}' >&2
    fi
    echo "$p $(( (c1 - c0) / PINGS ))"
}

measure() { # prints: tcp1_gbps tcp4_gbps udp1392_kpps udp64_kpps ping_ms
    if [ "$MODE" = ping ]; then measure_ping; return; fi
    for _ in $(seq 50); do ip netns exec $A ping -c1 -W1 10.201.0.2 >/dev/null 2>&1 && break; done
    t1=$(tcp_gbps 1)
    t4=$(tcp_gbps 4)
    u1=$(udp_pps 1392)
    u2=$(udp_pps 64)
    p=$(ip netns exec $A ping -c 50 -i 0.02 -q 10.201.0.2 | awk -F/ '/rtt/{print $5}')
    echo "$t1 $t4 $u1 $u2 $p"
}

for i in "${IMPLS[@]}"; do : > "$TMP/$i"; done
for r in $(seq "$ROUNDS"); do
    for i in "${IMPLS[@]}"; do
        start_impl "$i"; measure >> "$TMP/$i"; stop_all
        echo "round $r: $i $(tail -1 "$TMP/$i")" >&2
    done
done
if [ "$MODE" = ping ]; then
    echo "CPU: $(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo), $(nproc) CPUs; pinning: $PIN; wgd ${WGD_OPTS[*]:-(all offloads)}; $ROUNDS rounds of $PINGS pings at 10 ms"
else
    echo "CPU: $(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo), $(nproc) CPUs; pinning: $PIN; wgd ${WGD_OPTS[*]:-(all offloads)}; $ROUNDS rounds of $SECS s"
fi
python3 - "$TMP" "$MODE" "${IMPLS[@]}" <<'PY'
import statistics, sys, os
d, mode, impls = sys.argv[1], sys.argv[2], sys.argv[3:]
label = {"wgd": "wgd", "go2025": "wireguard-go 0.0.20250522", "godeb": "wireguard-go (Debian)",
         "boringtun": "boringtun"}
med = {}
for i in impls:
    rows = [list(map(float, l.split())) for l in open(os.path.join(d, i)) if l.strip()]
    med[i] = [statistics.median(c) for c in zip(*rows)]
ref = "go2025" if "go2025" in med else ("godeb" if "godeb" in med else None)
if "wgd" not in med:  # BENCH_IMPLS without wgd: the figures, no ratios
    ref = None
    bt = False
else:
    bt = "boringtun" in med
names = ["TCP 1 stream (Gbit/s)", "TCP 4 streams (Gbit/s)",
         "UDP 1392-byte, receiver (kpps)", "UDP 64-byte, receiver (kpps)", "ping avg (ms)"]
if mode == "ping":
    names = ["ping avg (ms)", "daemons' CPU per ping (µs)"]
print("| measure | " + " | ".join(label[i] for i in impls) +
      (f" | wgd / {label[ref]}" if ref else "") +
      (" | wgd / boringtun" if bt else "") + " |")
print("|---" * (len(impls) + 1 + bool(ref) + bt) + "|")
for k, n in enumerate(names):
    row = [f"{med[i][k]:.3f}" for i in impls]
    if ref:
        row.append(f"{med['wgd'][k] / med[ref][k]:.2f}")
    if bt:
        row.append(f"{med['wgd'][k] / med['boringtun'][k]:.2f}")
    print(f"| {n} | " + " | ".join(row) + " |")
PY
