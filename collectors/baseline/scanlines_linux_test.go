package baseline

import (
	"errors"
	"path/filepath"
	"syscall"
	"testing"
)

// TestReadRefusesFIFO: a FIFO in a checked path (a tampered /etc file) is
// refused before it is opened; opening it would block the scan.
func TestReadRefusesFIFO(t *testing.T) {
	t.Parallel()
	e := rootEnv(t, nil)
	if err := syscall.Mkfifo(filepath.Join(e.root.dir, "fifo"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := e.root.scanLines(100, func([]byte) {}, "fifo"); !errors.Is(err, ErrNotRegular) {
		t.Errorf("scanLines: error %v, want ErrNotRegular", err)
	}
	if _, err := e.root.ReadFile("fifo"); !errors.Is(err, ErrNotRegular) {
		t.Errorf("ReadFile: error %v, want ErrNotRegular", err)
	}
}
