package buffer

import (
	"bytes"
	"context"
	"errors"
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

// TestReadsFormat1File: a file written by the previous format (records
// without checksums, no caller meta bucket) opens, is upgraded in place, its
// records are delivered, and the byte accounting drains to zero.
func TestReadsFormat1File(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "b.db")
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	items := []Item{{Stream: "threat", Priority: 4, Data: []byte(`{"a":1}`)}, {Stream: "asset", Key: "plc", Priority: 2, Data: []byte(`{"b":2}`)}}
	err = db.Update(func(tx *bolt.Tx) error {
		var bs [4]*bolt.Bucket
		for i, name := range [][]byte{bucketQueue, bucketPrio, bucketIndex, bucketMeta} {
			if bs[i], err = tx.CreateBucket(name); err != nil {
				return err
			}
		}
		var size int64
		for i := range items {
			seq, _ := bs[0].NextSequence()
			if err := bs[0].Put(seqKey(seq), encodeV1(&items[i], 1, 2)); err != nil {
				return err
			}
			if err := bs[1].Put(prioKey(int64(items[i].Priority), seq), nil); err != nil {
				return err
			}
			if items[i].Key != "" {
				if err := bs[2].Put(indexKey([]byte(items[i].Stream), []byte(items[i].Key)), seqKey(seq)); err != nil {
					return err
				}
			}
			size += items[i].Size() - 4 // format 1 records have no checksum
		}
		for k, v := range map[string]uint64{"format": 1, "accepted": 2, "queued": 2, "bytes": uint64(size)} {
			if err := bs[3].Put([]byte(k), putU64(v)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	b, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx := context.Background()
	if err := b.Put(ctx, Item{Stream: "asset", Key: "plc", Priority: 2, Data: []byte(`{"b":3}`)}); err != nil {
		t.Fatal(err)
	}
	es, err := b.Next(ctx, 0, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 2 || string(es[0].Data) != `{"a":1}` || string(es[1].Data) != `{"b":3}` {
		t.Fatalf("entries %+v: want the format-1 event and the new state that replaced the format-1 state", es)
	}
	if err := b.Ack(ctx, es[0].Seq, es[1].Seq); err != nil {
		t.Fatal(err)
	}
	st := b.Stats()
	if st.Queued != 0 || st.Bytes != 0 || st.Delivered != 2 || st.Coalesced != 1 || st.Accepted != 3 {
		t.Fatalf("stats after drain: %+v", st)
	}
	_ = b.db.View(func(tx *bolt.Tx) error {
		if v := u64(tx.Bucket(bucketMeta).Get(metaFormat)); v != formatVersion {
			t.Errorf("format %d after open, want %d", v, formatVersion)
		}
		return nil
	})
}

// TestMetaValueDamaged: a caller meta value whose bytes changed is reported
// with ErrChecksum, never handed back as a valid checkpoint.
func TestMetaValueDamaged(t *testing.T) {
	t.Parallel()
	b, err := Open(filepath.Join(t.TempDir(), "b.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx := context.Background()
	if err := b.PutWithMeta(ctx, map[string][]byte{"checkpoint/a": []byte("offset 100")}); err != nil {
		t.Fatal(err)
	}
	err = b.db.Update(func(tx *bolt.Tx) error {
		v := bytes.Clone(tx.Bucket(bucketUser).Get([]byte("checkpoint/a")))
		v[len(v)-1] ^= 1
		return tx.Bucket(bucketUser).Put([]byte("checkpoint/a"), v)
	})
	if err != nil {
		t.Fatal(err)
	}
	if v, err := b.Meta(ctx, "checkpoint/a"); !errors.Is(err, ErrChecksum) || v != nil {
		t.Fatalf("Meta of a damaged value = %q, %v; want ErrChecksum", v, err)
	}
	if reps, _ := b.Recoveries(ctx); len(reps) != 0 {
		t.Fatalf("a damaged meta value moved the file aside: %+v", reps)
	}
}
