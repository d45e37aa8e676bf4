//go:build !linux && !windows

package passive

// newSocketOwners returns nil: there is no live capture, so no local
// process attribution, outside Linux and Windows (gopsutil would shell out
// to lsof here).
func newSocketOwners() socketOwners { return nil }
