#!/usr/bin/env bash
# The main job of wgif: the example of OpenBSD's wg(4) manual, on Linux.
#
#   ns "rdomain1"            daemon's namespace (UDP over 127.0.0.1)           ns "rdomain2"
#   wg1 192.168.5.1/24  <== wgd: wg1 port 7111  <-- UDP -->  wg2 port 7222 ==>  wg2 192.168.5.2/24
#
# Builds wgd and wgifconfig, starts wgd (or uses one already running), creates the two
# interfaces in two routing domains (network namespaces), shows their status, pings
# across, and removes everything it made.
#
# Environment: WGD_SOCKET (control socket, default /run/wgd.sock), DEMO_NETNS_PREFIX
# (namespace prefix of a wgd this script starts, default rdomain), DEMO_NONINTERACTIVE=1
# (no pauses), DEMO_BIN (directory holding prebuilt wgd/wgifconfig: skips the build).
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\n\033[1m%s\033[0m\n' "$*"; }
pause() { [ "${DEMO_NONINTERACTIVE:-}" = 1 ] || [ ! -t 0 ] || read -r -p "(press Enter) " _; }
run() { printf '$ %s\n' "$*"; "$@"; }

[ "$(id -u)" -eq 0 ] || { echo "demo: run as root (wgd creates tun devices and namespaces)" >&2; exit 1; }
need=()
command -v ping >/dev/null || need+=(iputils-ping)
command -v ip >/dev/null || need+=(iproute2)
command -v openssl >/dev/null || need+=(openssl)
if [ ${#need[@]} -gt 0 ]; then
    say "Installing ${need[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"
fi

if [ -n "${DEMO_BIN:-}" ]; then
    BIN=$DEMO_BIN
else
    say "Building wgd and wgifconfig (cargo build --release)"
    cargo build --release --bins --quiet
    BIN=$PWD/target/release
fi
export WGD_SOCKET=${WGD_SOCKET:-/run/wgd.sock}
PREFIX=${DEMO_NETNS_PREFIX:-rdomain}
wgifconfig() { "$BIN/wgifconfig" "$@"; }

WGD_PID=""
cleanup() {
    set +e
    wgifconfig wg1 destroy 2>/dev/null
    wgifconfig wg2 destroy 2>/dev/null
    if [ -n "$WGD_PID" ]; then
        kill -TERM "$WGD_PID" 2>/dev/null
        for _ in $(seq 50); do kill -0 "$WGD_PID" 2>/dev/null || break; sleep 0.1; done
        # Still there after 5 s: it will not clean up; end it all the same.
        kill -KILL "$WGD_PID" 2>/dev/null
        wait "$WGD_PID" 2>/dev/null
    fi
}

if "$BIN/wgifconfig" >/dev/null 2>&1; then
    say "Using the wgd already running on $WGD_SOCKET"
    PREFIX=rdomain
    for i in wg1 wg2; do
        if wgifconfig "$i" >/dev/null 2>&1; then
            echo "demo: $i already exists on this wgd; destroy it first (wgifconfig $i destroy)" >&2
            exit 1
        fi
    done
else
    say "Starting wgd on $WGD_SOCKET"
    mkdir -p "$(dirname "$WGD_SOCKET")"
    # DEMO_UAPI_DIR: where the interfaces' wg(8) sockets go (default /var/run/wireguard).
    "$BIN/wgd" -s "$WGD_SOCKET" --netns-prefix "$PREFIX" ${DEMO_UAPI_DIR:+-u "$DEMO_UAPI_DIR"} &
    WGD_PID=$!
    trap cleanup EXIT
    for _ in $(seq 100); do [ -S "$WGD_SOCKET" ] && break; sleep 0.1; done
    [ -S "$WGD_SOCKET" ] || { echo "demo: wgd did not start" >&2; exit 1; }
fi
trap cleanup EXIT

say "1. Two interfaces, each in its own routing domain, each with a fresh private key"
KEY1=$(openssl rand -base64 32)
KEY2=$(openssl rand -base64 32)
run "$BIN/wgifconfig" wg1 create wgport 7111 wgkey "$KEY1" rdomain 1
run "$BIN/wgifconfig" wg2 create wgport 7222 wgkey "$KEY2" rdomain 2
pause

say "2. Each learns the other's public key (read back from the status) and endpoint"
PUB1=$(wgifconfig wg1 | grep wgpubkey | cut -d ' ' -f 2)
PUB2=$(wgifconfig wg2 | grep wgpubkey | cut -d ' ' -f 2)
run "$BIN/wgifconfig" wg1 wgpeer "$PUB2" wgendpoint 127.0.0.1 7222 wgaip 192.168.5.2/32
run "$BIN/wgifconfig" wg2 wgpeer "$PUB1" wgendpoint 127.0.0.1 7111 wgaip 192.168.5.1/32
run "$BIN/wgifconfig" wg1 192.168.5.1/24
run "$BIN/wgifconfig" wg2 192.168.5.2/24
pause

say "3. Ping from routing domain 1 (namespace ${PREFIX}1) to wg2's address in domain 2"
ok=0
for _ in 1 2 3 4 5; do
    if run ip netns exec "${PREFIX}1" ping -c 2 -W 1 192.168.5.2; then ok=1; break; fi
done
[ "$ok" = 1 ] || { echo "demo: the ping did not get through" >&2; exit 1; }
pause

say "4. The status, as OpenBSD's ifconfig shows it"
run "$BIN/wgifconfig" wg1
run "$BIN/wgifconfig" wg2

say "What happened"
cat <<TXT
wgd created two WireGuard interfaces, wg1 and wg2, and moved each into its own network
namespace (${PREFIX}1 and ${PREFIX}2: OpenBSD's routing domains 1 and 2). Their
encrypted UDP traffic stayed in the daemon's namespace on 127.0.0.1, ports 7111 and
7222. The ping left ${PREFIX}1 through wg1, was encrypted, crossed loopback, was
decrypted by wg2 and answered the same way back: the tx/rx counters and the
"last handshake" line above show it.

What to try next (while wgd runs: wgd &):
  wgifconfig wg1 debug           # show the driver's messages (wgd's stderr)
  wgifconfig -A                  # every interface with its peers
  man ./man/wgifconfig.8         # every verb; man ./man/wg.4 for the device
  wgnetstart -n wg0              # what /etc/hostname.wg0 would run at boot
The demo now removes wg1 and wg2$( [ -n "$WGD_PID" ] && echo " and stops the wgd it started").
TXT
