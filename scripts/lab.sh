#!/usr/bin/env bash
# WireGuard topologies as runnable labs: scripts/lab.sh NAME (no NAME lists them).
#
# Each host of a lab is a routing domain (a network namespace, OpenBSD's rdomain): its
# wgN interface lives there (`rdomain N`) and so does its UDP socket (`wgrtable N`).
# The WireGuard part of every host comes from a hostname.wgN file only, booted with
# wgnetstart against a wgd this script starts in a namespace of its own with its own
# control socket. The "wires" between hosts (veth pairs, NAT routers) are made here
# with ip(8) and iptables(8). Then a ping matrix runs across the topology, each hop is
# explained, and everything the lab made is removed, also on error or interrupt.
#
# Names carry this run's PID: namespaces lab<PID>rdN (hosts) and lab<PID>-* (routers,
# the daemon's), files in a mktemp directory.
#
# Environment: LAB_BIN (directory holding wgd, wgifconfig and wgnetstart: skips the
# build), LAB_KEEPALIVE_WAIT (seconds of silence in the nat lab, default 8).
set -euo pipefail
cd "$(dirname "$0")/.."

LABS=(p2p relay nat full ipv6 dual)
describe() {
    case $1 in
    p2p) echo "point to point: two hosts, one tunnel between them" ;;
    relay) echo "a relay (bounce server) forwarding between two clients that cannot reach each other" ;;
    nat) echo "two peers behind separate NATs (iptables MASQUERADE) meeting through the relay; persistent keepalive holds the NAT mappings" ;;
    full) echo "a full tunnel: the client sends everything (0.0.0.0/0) through one peer, a gateway to another network" ;;
    ipv6) echo "IPv6 inside the tunnel and outside (the UDP underlay)" ;;
    dual) echo "dual stack: IPv4 and IPv6 inside the tunnel, hosts with both families outside" ;;
    *) return 1 ;;
    esac
}

usage() {
    echo "usage: scripts/lab.sh NAME"
    echo "labs:"
    for l in "${LABS[@]}"; do printf '  %-6s %s\n' "$l" "$(describe "$l")"; done
}

if [ $# -eq 0 ]; then
    usage
    exit 0
fi
if [ $# -ne 1 ]; then
    usage >&2
    exit 1
fi
LAB=$1
if ! describe "$LAB" >/dev/null; then
    echo "lab: unknown lab '$LAB'" >&2
    usage >&2
    exit 1
fi

[ "$(id -u)" -eq 0 ] || { echo "lab: run as root (namespaces, tun devices, iptables)" >&2; exit 1; }
[ -e /dev/net/tun ] || { echo "lab: needs /dev/net/tun" >&2; exit 1; }
need=()
command -v ip >/dev/null || need+=(iproute2)
command -v nsenter >/dev/null || need+=(util-linux)
command -v ping >/dev/null || need+=(iputils-ping)
command -v openssl >/dev/null || need+=(openssl)
case $LAB in nat | full) command -v iptables >/dev/null || need+=(iptables) ;; esac
if [ ${#need[@]} -gt 0 ]; then
    echo "lab: installing ${need[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"
fi

if [ -n "${LAB_BIN:-}" ]; then
    BIN=$LAB_BIN
else
    echo "lab: building wgd, wgifconfig, wgnetstart (cargo build --release)"
    cargo build --release --bins --quiet
    BIN=$PWD/target/release
fi
for b in wgd wgifconfig wgnetstart; do
    [ -x "$BIN/$b" ] || { echo "lab: $BIN/$b missing" >&2; exit 1; }
done

P=lab$$
DIR=$(mktemp -d /tmp/wgif-lab.XXXXXX)
ETC=$DIR/etc
mkdir -p "$ETC"
export WGD_SOCKET=$DIR/wgd.sock
WGD_PID=""

cleanup() {
    local status=$?
    set +e
    trap - EXIT INT TERM HUP
    if [ -n "$WGD_PID" ]; then
        kill -TERM "$WGD_PID" 2>/dev/null
        for _ in $(seq 50); do kill -0 "$WGD_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$WGD_PID" 2>/dev/null
        wait "$WGD_PID" 2>/dev/null
    fi
    for ns in $(ls /run/netns 2>/dev/null); do
        case $ns in "$P"rd* | "$P"-*) ip netns del "$ns" 2>/dev/null ;; esac
    done
    rm -rf "$DIR"
    echo "lab: removed the namespaces ${P}* and $DIR"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

say() { printf '\n\033[1m%s\033[0m\n' "$*"; }
die() {
    echo "lab $LAB: $*" >&2
    [ -f "$DIR/wgd.log" ] && { echo "--- wgd log (last lines)" >&2; tail -n 20 "$DIR/wgd.log" >&2; }
    exit 1
}
wgc() { "$BIN/wgifconfig" "$@"; }
in_ns() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

# rd N: the namespace of routing domain N.
rd() { echo "${P}rd$1"; }

# mkns NAME: a namespace with lo up.
mkns() {
    ip netns add "$1"
    ip -n "$1" link set lo up
}

# wire NS1 IF1 ADDRS1 NS2 IF2 ADDRS2: a veth pair between two namespaces; ADDRS are
# comma-separated (IPv6 without duplicate address detection, to be usable at once).
wire() {
    ip link add "$2" netns "$1" type veth peer name "$5" netns "$4"
    local ns ifn a
    for side in "$1 $2 $3" "$4 $5 $6"; do
        read -r ns ifn addrs <<<"$side"
        for a in ${addrs//,/ }; do
            if [[ $a == *:* ]]; then
                ip -n "$ns" addr add "$a" dev "$ifn" nodad
            else
                ip -n "$ns" addr add "$a" dev "$ifn"
            fi
        done
        ip -n "$ns" link set "$ifn" up
    done
}

# forwarding NS: a router (IPv4 and IPv6 forwarding, no redirects).
forwarding() {
    in_ns "$1" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 \
        net.ipv4.conf.all.send_redirects=0
}

# keypair NAME: NAME_KEY and NAME_PUB (X25519 with openssl, as base64).
keypair() {
    local der=$DIR/$1.der
    openssl genpkey -algorithm X25519 -outform DER -out "$der" 2>/dev/null
    printf -v "${1}_KEY" '%s' "$(tail -c 32 "$der" | base64)"
    printf -v "${1}_PUB" '%s' "$(openssl pkey -inform DER -in "$der" -pubout -outform DER | tail -c 32 | base64)"
    rm -f "$der"
}

# hostfile N TEXT: /etc/hostname.wgN of this lab.
hostfile() {
    printf '%s\n' "$2" >"$ETC/hostname.wg$1"
    chmod 600 "$ETC/hostname.wg$1"
}

start_wgd() {
    mkns "$P-wgd"
    nsenter --net="/run/netns/$P-wgd" "$BIN/wgd" -s "$WGD_SOCKET" --netns-prefix "${P}rd" \
        2>"$DIR/wgd.log" &
    WGD_PID=$!
    for _ in $(seq 100); do [ -S "$WGD_SOCKET" ] && break; sleep 0.1; done
    [ -S "$WGD_SOCKET" ] || die "wgd did not start"
}

boot() {
    say "The hostname.wgN files (the whole WireGuard configuration of the lab)"
    for f in "$ETC"/hostname.wg*; do
        echo "--- $(basename "$f") (host in $(rd "${f##*wg}"))"
        sed -E 's/(wgkey) [^ ]+/\1 <private key>/' "$f"
    done
    say "Booting them: wgnetstart -d $ETC"
    "$BIN/wgnetstart" -d "$ETC" || die "wgnetstart failed"
}

# hop NS DST MEANING: ping DST from NS (bounded: 15 tries of 1 s; the first packets
# wait for the handshake, IPv6 addresses for duplicate address detection).
hop() {
    local ns=$1 dst=$2 what=$3 fam=""
    [[ $dst == *:* ]] && fam=-6
    for _ in $(seq 15); do
        if in_ns "$ns" ping $fam -c 1 -W 1 "$dst" >/dev/null 2>&1; then
            printf '  ok   %-6s -> %-14s %s\n' "${ns#"$P"}" "$dst" "$what"
            return 0
        fi
    done
    printf '  FAIL %-6s -> %-14s %s\n' "${ns#"$P"}" "$dst" "$what"
    die "no answer from $dst in $ns"
}

# unreachable NS DST MEANING: DST must not answer from NS (one try).
unreachable() {
    local fam=""
    [[ $2 == *:* ]] && fam=-6
    if in_ns "$1" ping $fam -c 1 -W 1 "$2" >/dev/null 2>&1; then
        die "$2 answered from $1, but $3"
    fi
    printf '  no   %-6s -> %-14s %s\n' "${1#"$P"}" "$2" "$3"
}

# bytes IF PUB tx|rx: a peer's counter as wgifconfig shows it.
bytes() {
    wgc "$1" | awk -v pub="$2" -v f="$3" '
        $1 == "wgpeer" { cur = ($2 == pub) }
        cur && $1 == "tx:" { gsub(",", "", $2); if (f == "tx") print $2; else print $4 }'
}

# endpoint IF PUB: the endpoint wgifconfig shows for a peer.
endpoint() {
    wgc "$1" | awk -v pub="$2" '
        $1 == "wgpeer" { cur = ($2 == pub) }
        cur && $1 == "wgendpoint" { print $2 " " $3 }'
}

lab_p2p() {
    mkns "$(rd 1)"; mkns "$(rd 2)"
    wire "$(rd 1)" out0 192.0.2.1/24 "$(rd 2)" out0 192.0.2.2/24
    keypair h1; keypair h2
    hostfile 1 "description 'lab p2p: host 1'
rdomain 1
wgrtable 1
wgkey $h1_KEY wgport 51820
inet 10.10.0.1 255.255.255.0
wgpeer $h2_PUB wgendpoint 192.0.2.2 51820 wgaip 10.10.0.2/32 wgdescr 'host 2'
up"
    hostfile 2 "description 'lab p2p: host 2'
rdomain 2
wgrtable 2
wgkey $h2_KEY wgport 51820
inet 10.10.0.2 255.255.255.0
wgpeer $h1_PUB wgendpoint 192.0.2.1 51820 wgaip 10.10.0.1/32 wgdescr 'host 1'
up"
    start_wgd; boot
    say "Ping matrix"
    hop "$(rd 1)" 10.10.0.2 "host 1 to host 2 inside the tunnel: UDP 192.0.2.1 -> 192.0.2.2:51820 on the wire"
    hop "$(rd 2)" 10.10.0.1 "host 2 to host 1, the same tunnel the other way"
    hop "$(rd 1)" 192.0.2.2 "the underlay itself: the wire between the two hosts, outside the tunnel"
    wgc wg1
}

lab_relay() {
    mkns "$(rd 1)"; mkns "$(rd 2)"; mkns "$(rd 3)"
    wire "$(rd 1)" out0 192.0.2.1/24 "$(rd 3)" outa 192.0.2.3/24
    wire "$(rd 2)" out0 198.51.100.2/24 "$(rd 3)" outb 198.51.100.3/24
    forwarding "$(rd 3)"
    keypair a; keypair b; keypair r
    hostfile 1 "description 'lab relay: client A'
rdomain 1
wgrtable 1
wgkey $a_KEY wgport 51820
inet 10.20.0.1 255.255.255.0
wgpeer $r_PUB wgendpoint 192.0.2.3 51820 wgaip 10.20.0.0/24 wgpka 25 wgdescr relay
up"
    hostfile 2 "description 'lab relay: client B'
rdomain 2
wgrtable 2
wgkey $b_KEY wgport 51820
inet 10.20.0.2 255.255.255.0
wgpeer $r_PUB wgendpoint 198.51.100.3 51820 wgaip 10.20.0.0/24 wgpka 25 wgdescr relay
up"
    hostfile 3 "description 'lab relay: the relay'
rdomain 3
wgrtable 3
wgkey $r_KEY wgport 51820
inet 10.20.0.3 255.255.255.0
wgpeer $a_PUB wgaip 10.20.0.1/32 wgdescr 'client A'
wgpeer $b_PUB wgaip 10.20.0.2/32 wgdescr 'client B'
up"
    start_wgd; boot
    say "Ping matrix"
    unreachable "$(rd 1)" 198.51.100.2 "client A has no route to client B's network: they meet only in the tunnel"
    hop "$(rd 1)" 10.20.0.3 "client A to the relay (the relay learns A's endpoint from the handshake)"
    hop "$(rd 2)" 10.20.0.3 "client B to the relay (and the relay learns B's)"
    local rx_a tx_b
    rx_a=$(bytes wg3 "$a_PUB" rx); tx_b=$(bytes wg3 "$b_PUB" tx)
    hop "$(rd 1)" 10.20.0.2 "client A to client B: A -> relay (decrypted, routed back into wg3) -> B"
    hop "$(rd 2)" 10.20.0.1 "client B to client A, through the relay the same way"
    local rx_a2 tx_b2
    rx_a2=$(bytes wg3 "$a_PUB" rx); tx_b2=$(bytes wg3 "$b_PUB" tx)
    say "The relay's counters while A and B talked"
    echo "  from client A: rx $rx_a -> $rx_a2 bytes; to client B: tx $tx_b -> $tx_b2 bytes"
    [ "$rx_a2" -gt "$rx_a" ] && [ "$tx_b2" -gt "$tx_b" ] ||
        die "the relay's counters did not move: the traffic did not cross it"
    echo "  A's packets to B entered the relay from A and left it towards B: they crossed it."
    wgc wg3
}

lab_nat() {
    local wait=${LAB_KEEPALIVE_WAIT:-8}
    mkns "$(rd 1)"; mkns "$(rd 2)"; mkns "$(rd 3)"; mkns "$P-nat1"; mkns "$P-nat2"
    wire "$(rd 1)" out0 172.16.1.2/24 "$P-nat1" lan0 172.16.1.1/24
    wire "$(rd 2)" out0 172.16.2.2/24 "$P-nat2" lan0 172.16.2.1/24
    wire "$P-nat1" wan0 198.51.100.2/24 "$(rd 3)" outa 198.51.100.3/24
    wire "$P-nat2" wan0 203.0.113.2/24 "$(rd 3)" outb 203.0.113.3/24
    ip -n "$(rd 1)" route add default via 172.16.1.1
    ip -n "$(rd 2)" route add default via 172.16.2.1
    forwarding "$(rd 3)"
    for n in nat1 nat2; do
        forwarding "$P-$n"
        in_ns "$P-$n" iptables -t nat -A POSTROUTING -o wan0 -j MASQUERADE
        # Short-lived UDP mappings, so that the lab can show keepalive holding them.
        in_ns "$P-$n" sysctl -qw net.netfilter.nf_conntrack_udp_timeout=5 \
            net.netfilter.nf_conntrack_udp_timeout_stream=5 ||
            die "cannot set the NAT's UDP timeout (nf_conntrack)"
    done
    keypair a; keypair b; keypair r
    hostfile 1 "description 'lab nat: peer A behind NAT 1'
rdomain 1
wgrtable 1
wgkey $a_KEY wgport 51820
inet 10.30.0.1 255.255.255.0
wgpeer $r_PUB wgendpoint 198.51.100.3 51820 wgaip 10.30.0.0/24 wgpka 2 wgdescr relay
up"
    hostfile 2 "description 'lab nat: peer B behind NAT 2'
rdomain 2
wgrtable 2
wgkey $b_KEY wgport 51820
inet 10.30.0.2 255.255.255.0
wgpeer $r_PUB wgendpoint 203.0.113.3 51820 wgaip 10.30.0.0/24 wgpka 2 wgdescr relay
up"
    hostfile 3 "description 'lab nat: the relay'
rdomain 3
wgrtable 3
wgkey $r_KEY wgport 51820
inet 10.30.0.3 255.255.255.0
wgpeer $a_PUB wgaip 10.30.0.1/32 wgdescr 'peer A'
wgpeer $b_PUB wgaip 10.30.0.2/32 wgdescr 'peer B'
up"
    start_wgd; boot
    say "Ping matrix"
    unreachable "$(rd 3)" 172.16.1.2 "the relay cannot address peer A: A is behind NAT 1"
    hop "$(rd 1)" 10.30.0.3 "peer A to the relay: out through NAT 1, which rewrites 172.16.1.2 to 198.51.100.2"
    hop "$(rd 2)" 10.30.0.3 "peer B to the relay: out through NAT 2 (172.16.2.2 becomes 203.0.113.2)"
    hop "$(rd 1)" 10.30.0.2 "peer A to peer B: A -> NAT 1 -> relay -> NAT 2 -> B, the relay forwarding"
    hop "$(rd 2)" 10.30.0.1 "peer B to peer A the same way back"
    local ea eb
    ea=$(endpoint wg3 "$a_PUB"); eb=$(endpoint wg3 "$b_PUB")
    echo "  the relay sees peer A at $ea and peer B at $eb: the NATs' public addresses"
    [[ $ea == "198.51.100.2 "* && $eb == "203.0.113.2 "* ]] ||
        die "the relay should see the NATs' addresses, not $ea / $eb"
    say "Keepalive holding the NAT mappings"
    local rx1 rx2
    rx1=$(bytes wg3 "$a_PUB" rx)
    echo "  The NATs forget a UDP mapping after 5 s without packets. Nobody sends data for"
    echo "  ${wait} s now; only the peers' persistent keepalives (wgpka 2) cross the NATs."
    sleep "$wait" # the experiment: time passing without traffic, not a wait for readiness
    rx2=$(bytes wg3 "$a_PUB" rx)
    echo "  relay rx from peer A during the silence: $rx1 -> $rx2 bytes (keepalives)"
    [ "$rx2" -gt "$rx1" ] || die "no keepalive reached the relay"
    hop "$(rd 3)" 10.30.0.1 "the relay reaches peer A inbound through NAT 1: the mapping is still there"
    hop "$(rd 3)" 10.30.0.2 "the relay reaches peer B inbound through NAT 2 the same way"
    wgc wg3
}

lab_full() {
    mkns "$(rd 1)"; mkns "$(rd 2)"; mkns "$P-net"
    wire "$(rd 1)" out0 192.0.2.1/24 "$(rd 2)" out0 192.0.2.2/24
    wire "$(rd 2)" net0 203.0.113.2/24 "$P-net" net0 203.0.113.1/24
    forwarding "$(rd 2)"
    in_ns "$(rd 2)" iptables -t nat -A POSTROUTING -s 10.40.0.0/24 -o net0 -j MASQUERADE
    keypair c; keypair g
    hostfile 1 "description 'lab full: client, everything through the gateway'
rdomain 1
wgrtable 1
wgkey $c_KEY wgport 51820
inet 10.40.0.1 255.255.255.0
wgpeer $g_PUB wgendpoint 192.0.2.2 51820 wgaip 0.0.0.0/0 wgdescr gateway
up
!ip netns exec $(rd 1) ip route add default dev \$if"
    hostfile 2 "description 'lab full: gateway'
rdomain 2
wgrtable 2
wgkey $g_KEY wgport 51820
inet 10.40.0.2 255.255.255.0
wgpeer $c_PUB wgaip 10.40.0.1/32 wgdescr client
up"
    start_wgd; boot
    say "Ping matrix"
    echo "  the client's route to the other network: $(ip -n "$(rd 1)" route get 203.0.113.1 | head -n 1)"
    local tx1 tx2
    tx1=$(bytes wg2 "$c_PUB" rx)
    hop "$(rd 1)" 10.40.0.2 "client to the gateway's tunnel address"
    hop "$(rd 1)" 203.0.113.1 "client to a host beyond the gateway: default route into wg1, the gateway decrypts and forwards (NAT)"
    hop "$(rd 2)" 10.40.0.1 "gateway to the client inside the tunnel"
    tx2=$(bytes wg2 "$c_PUB" rx)
    echo "  gateway rx from the client: $tx1 -> $tx2 bytes"
    [ "$tx2" -gt "$tx1" ] || die "the gateway received nothing through the tunnel"
    unreachable "$P-net" 192.0.2.1 "the outside host cannot reach the client's own address: only the tunnel leads there"
    wgc wg1
}

lab_ipv6() {
    mkns "$(rd 1)"; mkns "$(rd 2)"
    wire "$(rd 1)" out0 2001:db8:1::1/64 "$(rd 2)" out0 2001:db8:1::2/64
    keypair h1; keypair h2
    hostfile 1 "description 'lab ipv6: host 1'
rdomain 1
wgrtable 1
wgkey $h1_KEY wgport 51820
inet6 fd00:6::1 64
wgpeer $h2_PUB wgendpoint 2001:db8:1::2 51820 wgaip fd00:6::2/128 wgdescr 'host 2'
up"
    hostfile 2 "description 'lab ipv6: host 2'
rdomain 2
wgrtable 2
wgkey $h2_KEY wgport 51820
inet6 fd00:6::2 64
wgpeer $h1_PUB wgendpoint 2001:db8:1::1 51820 wgaip fd00:6::1/128 wgdescr 'host 1'
up"
    start_wgd; boot
    say "Ping matrix"
    hop "$(rd 1)" fd00:6::2 "host 1 to host 2 inside the tunnel, UDP over IPv6 to [2001:db8:1::2]:51820"
    hop "$(rd 2)" fd00:6::1 "host 2 to host 1, the same tunnel back"
    unreachable "$(rd 1)" 10.10.0.2 "no IPv4 anywhere in this lab"
    wgc wg1
}

lab_dual() {
    mkns "$(rd 1)"; mkns "$(rd 2)"
    wire "$(rd 1)" out0 192.0.2.1/24,2001:db8:1::1/64 "$(rd 2)" out0 192.0.2.2/24,2001:db8:1::2/64
    keypair h1; keypair h2
    hostfile 1 "description 'lab dual: host 1'
rdomain 1
wgrtable 1
wgkey $h1_KEY wgport 51820
inet 10.50.0.1 255.255.255.0
inet6 fd00:50::1 64
wgpeer $h2_PUB wgendpoint 2001:db8:1::2 51820 wgaip 10.50.0.2/32 wgaip fd00:50::2/128 wgdescr 'host 2'
up"
    hostfile 2 "description 'lab dual: host 2'
rdomain 2
wgrtable 2
wgkey $h2_KEY wgport 51820
inet 10.50.0.2 255.255.255.0
inet6 fd00:50::2 64
wgpeer $h1_PUB wgendpoint 192.0.2.1 51820 wgaip 10.50.0.1/32 wgaip fd00:50::1/128 wgdescr 'host 1'
up"
    start_wgd; boot
    say "Ping matrix"
    echo "  host 1 knows host 2 by its IPv6 address, host 2 knows host 1 by its IPv4 address;"
    echo "  the first handshake (host 1 first here) sets the outer family, and each side answers"
    echo "  where the other's latest authenticated packet came from."
    hop "$(rd 1)" 10.50.0.2 "host 1 to host 2, IPv4 inside, the handshake over IPv6 outside (to 2001:db8:1::2)"
    hop "$(rd 1)" fd00:50::2 "host 1 to host 2, IPv6 inside, the same session"
    local e
    e=$(endpoint wg2 "$h1_PUB")
    echo "  host 2 now sends to host 1 at $e (configured: 192.0.2.1 51820)"
    [[ $e == "2001:db8:1::1 "* ]] || die "host 2 should answer host 1 over IPv6, not at $e"
    hop "$(rd 2)" 10.50.0.1 "host 2 to host 1, IPv4 inside, IPv6 outside"
    hop "$(rd 2)" fd00:50::1 "host 2 to host 1, IPv6 inside"
    wgc wg1
}

say "Lab $LAB: $(describe "$LAB")"
echo "namespace prefix: $P"
"lab_$LAB"
say "Lab $LAB passed; removing what it made"
