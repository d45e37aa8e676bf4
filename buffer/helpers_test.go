package buffer_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/edgeward/edgeward/buffer"
)

// clock is a settable time source for Options.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock {
	return &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func tempPath(t testing.TB) string {
	t.Helper()
	return filepath.Join(t.TempDir(), "sub", "buffer.db")
}

// openAt opens a buffer at path and closes it when the test ends.
func openAt(t testing.TB, path string, opts buffer.Options) *buffer.Buffer {
	t.Helper()
	b, err := buffer.Open(path, opts)
	if err != nil {
		t.Fatalf("Open(%q): %v", path, err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return b
}

func openTemp(t testing.TB, opts buffer.Options) *buffer.Buffer {
	t.Helper()
	return openAt(t, tempPath(t), opts)
}

func mustPut(t *testing.T, b *buffer.Buffer, items ...buffer.Item) {
	t.Helper()
	if err := b.Put(context.Background(), items...); err != nil {
		t.Fatalf("Put: %v", err)
	}
}

func mustNext(t *testing.T, b *buffer.Buffer, after uint64, max, maxBytes int) []buffer.Entry {
	t.Helper()
	es, err := b.Next(context.Background(), after, max, maxBytes)
	if err != nil {
		t.Fatalf("Next(%d, %d, %d): %v", after, max, maxBytes, err)
	}
	return es
}

func mustAck(t *testing.T, b *buffer.Buffer, seqs ...uint64) {
	t.Helper()
	if err := b.Ack(context.Background(), seqs...); err != nil {
		t.Fatalf("Ack(%v): %v", seqs, err)
	}
}

// checkBalance asserts Accepted == Delivered + Coalesced + sum(Dropped) +
// Queued and returns the stats.
func checkBalance(t *testing.T, b *buffer.Buffer) buffer.Stats {
	t.Helper()
	st := b.Stats()
	assertBalanced(t, st)
	return st
}

func assertBalanced(t *testing.T, st buffer.Stats) {
	t.Helper()
	var dropped uint64
	for _, n := range st.Dropped {
		dropped += n
	}
	if st.Accepted != st.Delivered+st.Coalesced+dropped+st.Queued {
		t.Fatalf("unbalanced stats: accepted %d != delivered %d + coalesced %d + dropped %d + queued %d",
			st.Accepted, st.Delivered, st.Coalesced, dropped, st.Queued)
	}
}

func seqs(es []buffer.Entry) []uint64 {
	var out []uint64
	for _, e := range es {
		out = append(out, e.Seq)
	}
	return out
}

func datas(es []buffer.Entry) []string {
	var out []string
	for _, e := range es {
		out = append(out, string(e.Data))
	}
	return out
}

func event(data string) buffer.Item {
	return buffer.Item{Stream: "threat", Priority: 4, Data: []byte(data)}
}

func state(key, data string) buffer.Item {
	return buffer.Item{Stream: "asset", Key: key, Priority: 2, Data: []byte(data)}
}

func payload(n, i int) []byte {
	s := fmt.Sprintf(`{"i":%d,"pad":"`, i)
	b := make([]byte, 0, n)
	b = append(b, s...)
	for len(b) < n-2 {
		b = append(b, 'x')
	}
	return append(b, '"', '}')
}

func slogTo(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
