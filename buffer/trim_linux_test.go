package buffer_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/edgeward/edgeward/buffer"
)

// rssFileKiB reads this process's file-backed resident memory.
func rssFileKiB(t *testing.T) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "RssFile:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	t.Fatal("no RssFile in /proc/self/status")
	return 0
}

// TestDrainKeepsMappingSmall drains a 40 MB backlog: the pages of the
// file that bbolt's memory map brought into the resident set are dropped
// as the drain goes, so the file-backed memory grows by a few MiB, not by
// the size of the file.
func TestDrainKeepsMappingSmall(t *testing.T) {
	path := filepath.Join(t.TempDir(), "buffer.db")
	b := openAt(t, path, buffer.Options{CompactBelow: -1})
	ctx := context.Background()
	pad := strings.Repeat("x", 4000)
	items := make([]buffer.Item, 500)
	for i := range items {
		items[i] = buffer.Item{Stream: "threat", Priority: 4, Data: []byte(pad)}
	}
	for range 20 { // 10,000 records of 4 KB
		if err := b.Put(ctx, items...); err != nil {
			t.Fatal(err)
		}
	}
	base := rssFileKiB(t)
	peak := base
	for {
		es := mustNext(t, b, 0, 200, 0)
		if len(es) == 0 {
			break
		}
		mustAck(t, b, seqs(es)...)
		peak = max(peak, rssFileKiB(t))
	}
	if grew := peak - base; grew > 16<<10 {
		t.Errorf("draining 40 MB grew the file-backed resident set by %d KiB (%d -> %d)", grew, base, peak)
	}
}
