package agent

import (
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"testing"
	"time"

	"github.com/edgeward/edgeward/buffer"
)

// openFDs counts this process's open file descriptors, or skips the test
// where /proc/self/fd does not exist.
func openFDs(t testing.TB) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("cannot count open file descriptors here: %v", err)
	}
	return len(ents)
}

// TestHeartbeatReleasesDescriptors builds many heartbeat records with the
// garbage collector off (so that no finalizer can close a leaked descriptor
// behind the test's back): the open descriptors and goroutines must be back
// at their baseline afterwards.
func TestHeartbeatReleasesDescriptors(t *testing.T) {
	buf, err := buffer.Open(filepath.Join(t.TempDir(), "buffer.db"), buffer.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer buf.Close()
	h := &heartbeat{start: time.Now(), buf: buf, key: "fd"}
	h.record() // warm up lazily opened files
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	fds, gs := openFDs(t), runtime.NumGoroutine()
	const n = 200
	for range n {
		body := h.record().Body.(map[string]any)
		if body["rss_bytes"].(uint64) == 0 {
			t.Fatal("heartbeat has no RSS")
		}
	}
	if got := openFDs(t); got > fds {
		t.Errorf("%d heartbeats left %d more open descriptors (%d -> %d)", n, got-fds, fds, got)
	}
	if got := runtime.NumGoroutine(); got > gs {
		t.Errorf("%d heartbeats left %d more goroutines", n, got-gs)
	}
}
