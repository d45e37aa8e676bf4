#!/usr/bin/env bash
# Install edgeward as a systemd service: a dedicated user, the binary in
# /usr/bin, the config in /etc/edgeward (kept if present), the buffer in
# /var/lib/edgeward. Usage: sudo scripts/install-linux.sh [path/to/edgeward]
set -euo pipefail
bin=${1:-bin/edgeward}
here=$(cd "$(dirname "$0")" && pwd)
[ "$(id -u)" -eq 0 ] || { echo "run as root (sudo $0)" >&2; exit 1; }
[ -x "$bin" ] || { echo "no binary at $bin: run 'make build' first or pass its path" >&2; exit 1; }

id edgeward >/dev/null 2>&1 || useradd --system --home-dir /var/lib/edgeward --shell /usr/sbin/nologin edgeward
install -m 0755 "$bin" /usr/bin/edgeward
install -d -m 0750 -o root -g edgeward /etc/edgeward
[ -f /etc/edgeward/edgeward.yaml ] || install -m 0640 -o root -g edgeward "$here/../configs/edgeward.example.yaml" /etc/edgeward/edgeward.yaml
install -d -m 0750 -o edgeward -g edgeward /var/lib/edgeward
/usr/bin/edgeward check-config -c /etc/edgeward/edgeward.yaml >/dev/null
install -m 0644 "$here/edgeward.service" /etc/systemd/system/edgeward.service
systemctl daemon-reload
systemctl enable --now edgeward
echo "edgeward installed; edit /etc/edgeward/edgeward.yaml and 'systemctl restart edgeward'"
