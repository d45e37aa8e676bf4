package buffer

import (
	"bytes"
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
)

func TestMmapSizeFor(t *testing.T) {
	t.Parallel()
	limit := int64(initialMmapCap)
	if is32bit {
		limit = min(limit, 256<<20)
	}
	tests := []struct {
		name     string
		maxBytes int64
		want     int64
	}{
		{"no cap", 0, min(256<<20, limit)},
		{"small cap", 1 << 20, min(2<<20, limit)},
		{"huge cap", 100 << 30, limit},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := int64(mmapSizeFor(tc.maxBytes)); got != tc.want {
				t.Fatalf("mmapSizeFor(%d) = %d, want %d", tc.maxBytes, got, tc.want)
			}
		})
	}
}

// TestMaxBytesClamp32 checks the 32-bit clamp; run it with GOARCH=386 (or on
// arm) to exercise the clamped branch.
func TestMaxBytesClamp32(t *testing.T) {
	t.Parallel()
	for _, requested := range []int64{0, 1 << 30, 100 << 20} {
		var logs bytes.Buffer
		b, err := Open(filepath.Join(t.TempDir(), "b.db"), Options{
			MaxBytes: requested,
			Logger:   slog.New(slog.NewTextHandler(&logs, nil)),
		})
		if err != nil {
			t.Fatal(err)
		}
		want, wantLog := requested, false
		if is32bit && (requested == 0 || requested > MaxBytes32) {
			want, wantLog = MaxBytes32, true
		}
		if b.maxBytes != want {
			t.Errorf("requested %d: effective max bytes %d, want %d", requested, b.maxBytes, want)
		}
		if got := strings.Count(logs.String(), "clamped"); got != map[bool]int{true: 1, false: 0}[wantLog] {
			t.Errorf("requested %d: %d clamp log lines, want log=%v: %s", requested, got, wantLog, logs.String())
		}
		if err := b.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestNoCompactionOfFullFileAfterReopen: after a restart the writer knows the
// live bytes before its first write, so a maintenance pass (timer or nudge)
// does not rewrite a file that is full of live records.
func TestNoCompactionOfFullFileAfterReopen(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "b.db")
	opts := Options{CompactMinBytes: 1 << 20, CompactBelow: 0.25}
	b, err := Open(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 30 {
		items := make([]Item, 100)
		for j := range items {
			items[j] = Item{Stream: "s", Data: []byte(strings.Repeat("x", 1000) + string(rune('a'+i%26)))}
		}
		if err := b.Put(context.Background(), items...); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}

	var logs bytes.Buffer
	opts.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	b, err = Open(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	// Three sends into the one-slot nudge channel: the third can only go in
	// once the writer has finished the first maintenance pass.
	for range 3 {
		b.nudge <- struct{}{}
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(logs.String(), "buffer compacted") {
		t.Errorf("a file full of live records was compacted after reopen:\n%s", logs.String())
	}
}

// TestCapsSurviveDamagedPriorityKey: a priority-index key of the wrong length
// (damage inside the file) is removed when the caps reach it, not sliced into
// a panic that would kill the agent at every start.
func TestCapsSurviveDamagedPriorityKey(t *testing.T) {
	t.Parallel()
	b, err := Open(filepath.Join(t.TempDir(), "b.db"), Options{MaxEntries: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx := context.Background()
	if err := b.Put(ctx, Item{Stream: "s", Data: []byte("a")}); err != nil {
		t.Fatal(err)
	}
	err = b.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketPrio).Put([]byte{0}, nil) })
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Put(ctx, Item{Stream: "s", Data: []byte("b")}); err != nil {
		t.Fatalf("Put over the cap with a damaged index key: %v", err)
	}
	st := b.Stats()
	if st.Queued != 1 || st.Dropped[ReasonMaxEntries] != 1 {
		t.Errorf("stats = %+v, want 1 queued and 1 dropped for max_entries", st)
	}
}
