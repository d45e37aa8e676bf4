//go:build !windows

package uplinktest

import (
	"os"
	"testing"
)

// openFDs counts the entries of /proc/self/fd.
func openFDs(t testing.TB) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("cannot count open file descriptors here: %v", err)
	}
	return len(ents)
}
