//go:build !windows

package baseline

// defaultTarget is the catalog half this build scans: Linux (also used on
// other Unix systems, where most checks report what they could not read).
func defaultTarget() string { return "linux" }
