#!/usr/bin/env bash
# Throughput and latency of wgd against wireguard-go, measured in the same run on the
# same topology, in alternating rounds. Prints medians and the ratio wgd / wireguard-go.
#
#   ns wgbA                         veth 10.200.0.0/24                         ns wgbB
#   tunnel 10.201.0.1  ==  UDP 10.200.0.1:7111  <------>  10.200.0.2:7222  ==  tunnel 10.201.0.2
#
# Usage (root): bench/tunnel.sh [rounds] [seconds]   (defaults 3 rounds of 5 s)
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}
SECS=${2:-5}
for t in iperf3 wireguard-go wg ip openssl python3; do
    command -v $t >/dev/null || { echo "bench: needs $t" >&2; exit 1; }
done
cargo build --release --bins --quiet
BIN=$PWD/target/release
A=wgbA$$; B=wgbB$$
TMP=$(mktemp -d)
PIDS=()
cleanup() {
    set +e
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
    ip netns del $A 2>/dev/null; ip netns del $B 2>/dev/null
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

start_wgd() {
    for side in A B; do
        ns=${!side}
        nsenter --net=/run/netns/$ns "$BIN/wgd" -s "$TMP/$side.sock" --netns-prefix "wgb$$$side" 2>/dev/null &
        PIDS+=($!)
    done
    for _ in $(seq 100); do [ -S "$TMP/A.sock" ] && [ -S "$TMP/B.sock" ] && break; sleep 0.1; done
    WGD_SOCKET=$TMP/A.sock "$BIN/wgifconfig" wg1 create wgport 7111 wgkey "$KA" \
        wgpeer "$PB" wgendpoint 10.200.0.2 7222 wgaip 10.201.0.2/32
    WGD_SOCKET=$TMP/A.sock "$BIN/wgifconfig" wg1 10.201.0.1/24
    WGD_SOCKET=$TMP/B.sock "$BIN/wgifconfig" wg1 create wgport 7222 wgkey "$KB" \
        wgpeer "$PA" wgendpoint 10.200.0.1 7111 wgaip 10.201.0.1/32
    WGD_SOCKET=$TMP/B.sock "$BIN/wgifconfig" wg1 10.201.0.2/24
}

start_go() {
    for side in A B; do
        ns=${!side}
        # UAPI sockets live in /var/run/wireguard, shared by all namespaces: one name each.
        WG_PROCESS_FOREGROUND=1 ip netns exec $ns wireguard-go -f wgo$side >/dev/null 2>&1 &
        PIDS+=($!)
    done
    for _ in $(seq 100); do
        ip netns exec $A wg show wgoA >/dev/null 2>&1 && ip netns exec $B wg show wgoB >/dev/null 2>&1 && break
        sleep 0.1
    done
    echo "$KA" > "$TMP/ka"; echo "$KB" > "$TMP/kb"
    ip netns exec $A wg set wgoA listen-port 7111 private-key "$TMP/ka" peer "$PB" endpoint 10.200.0.2:7222 allowed-ips 10.201.0.2/32
    ip netns exec $B wg set wgoB listen-port 7222 private-key "$TMP/kb" peer "$PA" endpoint 10.200.0.1:7111 allowed-ips 10.201.0.1/32
    ip -n $A addr add 10.201.0.1/24 dev wgoA; ip -n $B addr add 10.201.0.2/24 dev wgoB
    ip -n $A link set wgoA mtu 1420 up; ip -n $B link set wgoB mtu 1420 up
}

stop_all() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null || true; done
    PIDS=()
    for _ in $(seq 50); do
        ip -n $A link show wg1 >/dev/null 2>&1 || ip -n $B link show wg1 >/dev/null 2>&1 ||
            ip -n $A link show wgoA >/dev/null 2>&1 || ip -n $B link show wgoB >/dev/null 2>&1 || break
        sleep 0.1
    done
}

# Receiver packets per second of an unlimited-rate UDP run with $1-byte payloads.
udp_pps() {
    ip netns exec $B iperf3 -s -D -1 -B 10.201.0.2 --logfile "$TMP/su$1" ; sleep 0.3
    ip netns exec $A iperf3 -c 10.201.0.2 -u -b 0 -l "$1" -t "$SECS" -J 2>/dev/null | python3 -c '
import json, sys
# "packets" of sum_received counts up to the highest sequence number seen, lost ones
# included; the bytes are what really arrived.
s = json.load(sys.stdin)["end"]["sum_received"]
print(s["bytes"] / int(sys.argv[1]) / s["seconds"] / 1e3)' "$1"
}

measure() { # prints: tcp1_gbps tcp4_gbps udp1392_kpps udp64_kpps ping_ms
    for _ in $(seq 50); do ip netns exec $A ping -c1 -W1 10.201.0.2 >/dev/null 2>&1 && break; done
    ip netns exec $B iperf3 -s -D -1 -B 10.201.0.2 --logfile "$TMP/s1" ; sleep 0.3
    t1=$(ip netns exec $A iperf3 -c 10.201.0.2 -t "$SECS" -J | python3 -c 'import json,sys; print(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"]/1e9)')
    ip netns exec $B iperf3 -s -D -1 -B 10.201.0.2 --logfile "$TMP/s2" ; sleep 0.3
    t4=$(ip netns exec $A iperf3 -c 10.201.0.2 -t "$SECS" -P 4 -J | python3 -c 'import json,sys; print(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"]/1e9)')
    u1=$(udp_pps 1392)
    u2=$(udp_pps 64)
    p=$(ip netns exec $A ping -c 50 -i 0.02 -q 10.201.0.2 | awk -F/ '/rtt/{print $5}')
    echo "$t1 $t4 $u1 $u2 $p"
}

: > "$TMP/wgd"; : > "$TMP/go"
for r in $(seq "$ROUNDS"); do
    start_wgd; measure >> "$TMP/wgd"; stop_all
    start_go; measure >> "$TMP/go"; stop_all
    echo "round $r: wgd $(tail -1 "$TMP/wgd") | wireguard-go $(tail -1 "$TMP/go")" >&2
done
python3 - "$TMP/wgd" "$TMP/go" <<'PY'
import statistics, sys
rows = [[list(map(float, l.split())) for l in open(f) if l.strip()] for f in sys.argv[1:3]]
med = [[statistics.median(c) for c in zip(*r)] for r in rows]
names = ["TCP 1 stream (Gbit/s)", "TCP 4 streams (Gbit/s)",
         "UDP 1392-byte, receiver (kpps)", "UDP 64-byte, receiver (kpps)", "ping avg (ms)"]
print("| measure | wgd | wireguard-go | wgd / wireguard-go |")
print("| --- | --- | --- | --- |")
for i, n in enumerate(names):
    print(f"| {n} | {med[0][i]:.3f} | {med[1][i]:.3f} | {med[0][i]/med[1][i]:.2f} |")
PY
