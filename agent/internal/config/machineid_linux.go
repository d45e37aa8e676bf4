package config

import (
	"path/filepath"
	"strings"
)

// machineID reads the systemd machine id under root: /etc/machine-id, then
// /var/lib/dbus/machine-id. Empty files and the first-boot placeholder
// "uninitialized" are skipped.
func machineID(root string) string {
	for _, p := range [...][]string{{"etc", "machine-id"}, {"var", "lib", "dbus", "machine-id"}} {
		b, err := readBounded(filepath.Join(append([]string{root}, p...)...), 4096)
		if err != nil {
			continue
		}
		id := strings.TrimSpace(string(b))
		if id == "" || id == "uninitialized" {
			continue
		}
		return sanitizeID(id)
	}
	return ""
}
