package buffer_test

import (
	"context"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/edgeward/edgeward/buffer"
)

// fill puts n records of size bytes in batches of 100 and returns the file
// size afterwards.
func fill(t *testing.T, b *buffer.Buffer, n, size int) {
	t.Helper()
	for i := 0; i < n; i += 100 {
		items := make([]buffer.Item, 0, 100)
		for j := i; j < min(i+100, n); j++ {
			items = append(items, buffer.Item{Stream: "s", Key: keyFor(j), Data: payload(size, j)})
		}
		mustPut(t, b, items...)
	}
}

// keyFor gives every tenth record a state key, so the index is exercised.
func keyFor(i int) string {
	if i%10 == 0 {
		return "k" + string(rune('a'+i%26)) + string(rune('0'+i%7)) + string(rune(i))
	}
	return ""
}

// drain acks everything but the last keep entries, 100 at a time.
func drain(t *testing.T, b *buffer.Buffer, keep int) {
	t.Helper()
	for {
		st := b.Stats()
		if st.Queued <= uint64(keep) {
			return
		}
		n := min(100, int(st.Queued)-keep)
		mustAck(t, b, seqs(mustNext(t, b, 0, n, 0))...)
	}
}

func TestAutomaticCompactionShrinksFile(t *testing.T) {
	t.Parallel()
	path := tempPath(t)
	b := openAt(t, path, buffer.Options{CompactMinBytes: 1 << 20, CompactBelow: 0.25})
	fill(t, b, 6000, 1000)
	peak := checkBalance(t, b)
	if peak.FileBytes < 6_000_000 {
		t.Fatalf("file after fill is %d bytes, expected at least the data", peak.FileBytes)
	}
	keepWant := mustNext(t, b, 5989, 0, 0) // the last 10 (seqs 5991..6000) and one more
	drain(t, b, 10)
	st := checkBalance(t, b)
	if st.FileBytes > peak.FileBytes/4 {
		t.Fatalf("file did not shrink: %d bytes at peak, %d after drain", peak.FileBytes, st.FileBytes)
	}
	if st.Queued != 10 || st.Delivered != 5990 || st.Accepted != 6000 {
		t.Fatalf("stats after drain: %+v", st)
	}
	got := mustNext(t, b, 0, 0, 0)
	if diff := cmp.Diff(keepWant[1:], got); diff != "" {
		t.Fatalf("entries after compaction (-want +got):\n%s", diff)
	}
	// Sequences and the state index survive the copy: got[0] (seq 5991,
	// record 5990) is a state record, and a newer state replaces it.
	if got[0].Key == "" {
		t.Fatalf("test setup: entry %d has no state key", got[0].Seq)
	}
	mustPut(t, b, buffer.Item{Stream: "s", Key: got[0].Key, Data: []byte("new")})
	after := mustNext(t, b, 0, 0, 0)
	if last := after[len(after)-1]; last.Seq != 6001 {
		t.Fatalf("seq after compaction = %d, want 6001", last.Seq)
	}
	if st := checkBalance(t, b); st.Coalesced != 1 || st.Queued != 10 {
		t.Fatalf("after replacing a state record post-compaction: coalesced %d, queued %d, want 1 and 10", st.Coalesced, st.Queued)
	}
	if after[0].Seq == got[0].Seq {
		t.Fatalf("replaced entry %d still queued", got[0].Seq)
	}
	if _, err := os.Stat(path + ".compact"); !os.IsNotExist(err) {
		t.Fatalf("temporary compaction file left behind: %v", err)
	}
}

func TestCompactOnDemand(t *testing.T) {
	t.Parallel()
	path := tempPath(t)
	b := openAt(t, path, buffer.Options{CompactBelow: -1})
	fill(t, b, 3000, 1000)
	drain(t, b, 5)
	before := checkBalance(t, b)
	want := mustNext(t, b, 0, 0, 0)
	if err := b.Compact(context.Background()); err != nil {
		t.Fatalf("Compact: %v", err)
	}
	after := checkBalance(t, b)
	if after.FileBytes >= before.FileBytes/4 {
		t.Fatalf("Compact: file %d -> %d bytes", before.FileBytes, after.FileBytes)
	}
	before.FileBytes, after.FileBytes, before.OldestAge, after.OldestAge = 0, 0, 0, 0
	if diff := cmp.Diff(before, after); diff != "" {
		t.Fatalf("stats across compaction (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want, mustNext(t, b, 0, 0, 0)); diff != "" {
		t.Fatalf("entries across compaction (-want +got):\n%s", diff)
	}
	// The compacted file reopens.
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	b2 := openAt(t, path, buffer.Options{})
	if diff := cmp.Diff(want, mustNext(t, b2, 0, 0, 0)); diff != "" {
		t.Fatalf("entries after reopen (-want +got):\n%s", diff)
	}
}

func TestStaleCompactionFileRemoved(t *testing.T) {
	t.Parallel()
	path := tempPath(t)
	fillAndClose(t, path, 10)
	writeFile(t, path+".compact", []byte("half-written copy"))
	b := openAt(t, path, buffer.Options{})
	if _, err := os.Stat(path + ".compact"); !os.IsNotExist(err) {
		t.Fatalf("stale compaction file kept: %v", err)
	}
	if st := checkBalance(t, b); st.Queued != 10 {
		t.Fatalf("queued = %d, want 10", st.Queued)
	}
}
