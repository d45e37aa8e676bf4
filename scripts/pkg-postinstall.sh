#!/bin/sh
# Give the service user its state directory and read access to the config;
# enable the unit but leave starting it to the operator, who edits the config first.
set -e
chown edgeward:edgeward /var/lib/edgeward
chgrp edgeward /etc/edgeward/edgeward.yaml 2>/dev/null || true
chgrp edgeward /etc/edgeward 2>/dev/null || true
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
	systemctl daemon-reload || true
	systemctl enable edgeward.service || true
	echo "edgeward installed: edit /etc/edgeward/edgeward.yaml, then 'systemctl start edgeward'"
fi
