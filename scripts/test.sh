#!/usr/bin/env bash
# Runs every test of wgif. Installs what the tests need when it is missing (Debian
# packages, cargo-nextest, cargo-deb), checks formatting and lints, then runs the whole suite.
# The root-only tests need root and /dev/net/tun; run without them they fail loudly.
# TESTING.md says how to run parts of the suite, and as a user without root.
set -euo pipefail
cd "$(dirname "$0")/.."

need_pkgs=()
have() { command -v "$1" >/dev/null 2>&1; }
have wireguard-go || need_pkgs+=(wireguard-go)
have wg           || need_pkgs+=(wireguard-tools)
have iperf3       || need_pkgs+=(iperf3)
have mandoc       || need_pkgs+=(mandoc)
have ping         || need_pkgs+=(iputils-ping)
have ip           || need_pkgs+=(iproute2)
have openssl      || need_pkgs+=(openssl)
have nsenter      || need_pkgs+=(util-linux)
have iptables     || need_pkgs+=(iptables)
have useradd      || need_pkgs+=(passwd)
have python3      || need_pkgs+=(python3)
python3 -m pip --version >/dev/null 2>&1 || need_pkgs+=(python3-pip)
have dpkg-deb     || need_pkgs+=(dpkg)
have systemd-analyze || need_pkgs+=(systemd)
if [ ${#need_pkgs[@]} -gt 0 ]; then
    echo "test.sh: installing ${need_pkgs[*]}"
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}"
fi
# tests/status_formats.rs: the JSON schema validator and the Prometheus text parser.
for py in jsonschema:jsonschema prometheus_client:prometheus-client; do
    if ! python3 -c "import ${py%%:*}" >/dev/null 2>&1; then
        echo "test.sh: installing the Python package ${py#*:}"
        python3 -m pip install -q "${py#*:}" 2>/dev/null ||
            python3 -m pip install -q --break-system-packages "${py#*:}"
    fi
done
have cargo || { echo "test.sh: needs a Rust toolchain (cargo); see https://rustup.rs" >&2; exit 1; }
for c in rustfmt clippy; do
    if ! cargo "${c/rustfmt/fmt}" --version >/dev/null 2>&1; then
        echo "test.sh: installing the $c component"
        rustup component add "$c"
    fi
done
if ! cargo nextest --version >/dev/null 2>&1; then
    echo "test.sh: installing cargo-nextest"
    cargo install --locked cargo-nextest
fi

# tests/deb.rs builds the Debian package with cargo-deb (about 80 s to install from
# the crate registry on two cores; pinned: it packs the debug build, which later
# cargo-deb versions mean to refuse).
if ! cargo deb --version 2>/dev/null | grep -qx 'cargo-deb 3.8.0'; then
    echo "test.sh: installing cargo-deb"
    cargo install --locked cargo-deb --version 3.8.0
fi

cargo fmt --check
cargo clippy --all-targets --quiet -- -D warnings
cargo build --quiet --bins
# The root-only tests are #[ignore = "needs root: ..."] so that a plain `cargo test` passes
# for a contributor without root; this command runs as root and runs them too.
# One summary line at the end: nextest's.
exec cargo nextest run --run-ignored all --no-fail-fast --failure-output final --status-level fail "$@"
