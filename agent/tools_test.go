package agent

import (
	"os/exec"
	"testing"
)

// needGoTool skips a test that runs the go command when it is not on PATH:
// under Wine the Windows test binaries cannot start Linux programs. The
// Windows side of those tests is TestWine* (wine_linux_test.go), which
// builds edgeward.exe on Linux and runs it under Wine.
func needGoTool(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("go"); err != nil {
		t.Skipf("needs the go tool on PATH (%v); under Wine, TestWine* runs edgeward.exe instead", err)
	}
}
