package baseline

import (
	"runtime"
	"testing"
)

// needUnixModes skips a test whose expectations depend on the Unix file
// modes of a fixture (name.modes): Windows keeps only 0666 and 0444, so
// owner/group/other bits cannot be set there and mode checks (LNX-FIL-001,
// LNX-SSH-005) would see every file as world-writable.
func needUnixModes(t testing.TB) {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("expectations depend on Unix file modes, which Windows does not have (0666/0444 only)")
	}
}
