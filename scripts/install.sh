#!/usr/bin/env bash
# Builds wgif in release mode and installs wgd, wgifconfig, wgnetstart, wgconvert, the manual
# pages and the systemd units. PREFIX defaults to /usr/local.
set -euo pipefail
cd "$(dirname "$0")/.."
PREFIX=${PREFIX:-/usr/local}
cargo build --release --bins
install -d "$PREFIX/sbin" "$PREFIX/share/man/man4" "$PREFIX/share/man/man8"
install -m 0755 target/release/wgd target/release/wgifconfig target/release/wgnetstart target/release/wgconvert "$PREFIX/sbin/"
install -m 0644 man/wg.4 "$PREFIX/share/man/man4/"
install -m 0644 man/wgifconfig.8 man/wgd.8 man/wgconvert.8 "$PREFIX/share/man/man8/"
ln -sf wgifconfig.8 "$PREFIX/share/man/man8/wgnetstart.8"
if [ -d /etc/systemd/system ]; then
    for u in contrib/*.service; do
        sed "s|/usr/sbin/|$PREFIX/sbin/|g" "$u" > "/etc/systemd/system/$(basename "$u")"
    done
    if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
        systemctl daemon-reload
    fi
    echo "install: units installed; enable with: systemctl enable --now wgd wgnetstart"
fi
