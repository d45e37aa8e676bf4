package config

import (
	"os"
	"strings"
)

// DefaultAgentID returns a stable id for this machine: on Linux the systemd
// machine id (/etc/machine-id, then /var/lib/dbus/machine-id), on Windows the
// MachineGuid from HKLM\SOFTWARE\Microsoft\Cryptography, else the hostname.
// The result is lowercase and safe as an MQTT topic level; it is "" only when
// none of these exist.
func DefaultAgentID() string { return DefaultAgentIDFrom("/") }

// DefaultAgentIDFrom is DefaultAgentID reading the Linux machine-id files
// under root instead of "/" (a fixture tree in tests). On Windows root is
// ignored: the id comes from the registry.
func DefaultAgentIDFrom(root string) string {
	if id := machineID(root); id != "" {
		return id
	}
	h, err := os.Hostname()
	if err != nil {
		return ""
	}
	return sanitizeID(h)
}

// sanitizeID lowercases s and replaces every byte outside [a-z0-9._-] with
// '-', so that the id is one safe topic level.
func sanitizeID(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			b[i] = '-'
		}
	}
	if len(b) > maxSegmentLength {
		b = b[:maxSegmentLength]
	}
	return string(b)
}
