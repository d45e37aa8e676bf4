package agent

import (
	"path/filepath"
	"runtime"
	"runtime/debug"
	"testing"
	"time"

	"github.com/edgeward/edgeward/buffer"
	"github.com/edgeward/edgeward/uplink/uplinktest"
)

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
	fds, gs := uplinktest.OpenFDs(t), runtime.NumGoroutine()
	const n = 200
	for range n {
		body := h.record().Body.(map[string]any)
		if body["rss_bytes"].(uint64) == 0 {
			t.Fatal("heartbeat has no RSS")
		}
	}
	if got := uplinktest.OpenFDs(t); got > fds {
		t.Errorf("%d heartbeats left %d more open descriptors (%d -> %d)", n, got-fds, fds, got)
	}
	if got := runtime.NumGoroutine(); got > gs {
		t.Errorf("%d heartbeats left %d more goroutines", n, got-gs)
	}
}
