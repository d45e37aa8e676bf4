package uplinktest

import (
	"testing"
	"unsafe"

	"golang.org/x/sys/windows"
)

var procGetProcessHandleCount = windows.NewLazySystemDLL("kernel32.dll").NewProc("GetProcessHandleCount")

// openFDs counts the process's open handles (GetProcessHandleCount), the
// Windows counterpart of /proc/self/fd.
func openFDs(t testing.TB) int {
	t.Helper()
	var n uint32
	if r, _, err := procGetProcessHandleCount.Call(uintptr(windows.CurrentProcess()), uintptr(unsafe.Pointer(&n))); r == 0 {
		t.Skipf("cannot count open handles here: GetProcessHandleCount: %v", err)
	}
	return int(n)
}
