#!/bin/sh
# Create the unprivileged system user the service runs as.
set -e
if ! getent passwd edgeward >/dev/null; then
	useradd --system --home-dir /var/lib/edgeward --no-create-home --shell /usr/sbin/nologin edgeward
fi
