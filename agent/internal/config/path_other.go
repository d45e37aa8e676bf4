//go:build !windows

package config

// DefaultFile returns the configuration file used when none is named:
// /etc/edgeward/edgeward.yaml.
func DefaultFile() string { return "/etc/edgeward/edgeward.yaml" }

// defaultBufferPath is the FHS state directory.
func defaultBufferPath() string { return "/var/lib/edgeward/buffer.db" }
