#!/bin/sh
# Stop and disable the service before its files go; the buffer in
# /var/lib/edgeward is kept (records not yet delivered).
set -e
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
	systemctl disable --now edgeward.service || true
fi
