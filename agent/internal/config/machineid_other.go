//go:build !linux && !windows

package config

// machineID has no source on this OS; the hostname is used instead.
func machineID(_ string) string { return "" }
