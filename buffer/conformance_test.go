package buffer_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/edgeward/edgeward/buffer"
)

// opener creates a fresh buffer for one conformance case.
type opener func(t *testing.T) (*buffer.Buffer, string)

// TestConformance runs the queue contract against every way of opening a
// buffer: a fresh file, and a file that was filled, drained and compacted
// first (so sequence numbers do not start at 1).
func TestConformance(t *testing.T) {
	t.Parallel()
	impls := []struct {
		name string
		open opener
	}{
		{"fresh", func(t *testing.T) (*buffer.Buffer, string) {
			p := tempPath(t)
			return openAt(t, p, buffer.Options{}), p
		}},
		{"compacted", func(t *testing.T) (*buffer.Buffer, string) {
			p := tempPath(t)
			b := openAt(t, p, buffer.Options{CompactBelow: -1})
			mustPut(t, b, event("a"), event("b"), state("k", "v"))
			mustAck(t, b, seqs(mustNext(t, b, 0, 0, 0))...)
			if err := b.Compact(context.Background()); err != nil {
				t.Fatalf("Compact: %v", err)
			}
			return b, p
		}},
	}
	for _, impl := range impls {
		t.Run(impl.name, func(t *testing.T) {
			t.Parallel()
			runConformance(t, impl.open)
		})
	}
}

func runConformance(t *testing.T, open opener) {
	cases := []struct {
		name string
		run  func(t *testing.T, b *buffer.Buffer, path string)
	}{
		{"fifo", testFIFO},
		{"next after cursor", testNextAfter},
		{"next limits", testNextLimits},
		{"ack idempotent", testAckIdempotent},
		{"coalesce by key", testCoalesce},
		{"coalesce after next", testCoalesceAfterNext},
		{"events never coalesced", testEventsNotCoalesced},
		{"drop counts reason", testDrop},
		{"persistence", testPersistence},
		{"ready", testReady},
		{"cancelled put", testCancelledPut},
		{"closed", testClosed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b, path := open(t)
			tc.run(t, b, path)
		})
	}
}

func testFIFO(t *testing.T, b *buffer.Buffer, _ string) {
	mustPut(t, b, event("1"), event("2"))
	mustPut(t, b, event("3"))
	checkBalance(t, b)
	es := mustNext(t, b, 0, 0, 0)
	if diff := cmp.Diff([]string{"1", "2", "3"}, datas(es)); diff != "" {
		t.Fatalf("Next data (-want +got):\n%s", diff)
	}
	for i := 1; i < len(es); i++ {
		if es[i].Seq <= es[i-1].Seq {
			t.Fatalf("sequences not increasing: %v", seqs(es))
		}
	}
	if es[0].Stream != "threat" || es[0].Key != "" || es[0].Time.IsZero() {
		t.Fatalf("entry fields: %+v", es[0])
	}
	// Next does not remove.
	if diff := cmp.Diff(seqs(es), seqs(mustNext(t, b, 0, 0, 0))); diff != "" {
		t.Fatalf("second Next (-want +got):\n%s", diff)
	}
	// Data is a copy owned by the caller.
	es[0].Data[0] = 'X'
	if got := string(mustNext(t, b, 0, 1, 0)[0].Data); got != "1" {
		t.Fatalf("stored data changed through returned slice: %q", got)
	}
	st := checkBalance(t, b)
	if st.Queued != 3 || st.Bytes <= 0 {
		t.Fatalf("stats after 3 puts: %+v", st)
	}
}

func testNextAfter(t *testing.T, b *buffer.Buffer, _ string) {
	mustPut(t, b, event("1"), event("2"), event("3"), event("4"))
	all := mustNext(t, b, 0, 0, 0)
	got := mustNext(t, b, all[1].Seq, 0, 0)
	if diff := cmp.Diff([]string{"3", "4"}, datas(got)); diff != "" {
		t.Fatalf("Next after second (-want +got):\n%s", diff)
	}
	if got := mustNext(t, b, all[3].Seq, 0, 0); got != nil {
		t.Fatalf("Next after last = %v, want nil", datas(got))
	}
	// Acking the head does not disturb the cursor.
	mustAck(t, b, all[0].Seq)
	got = mustNext(t, b, 0, 2, 0)
	if diff := cmp.Diff([]string{"2", "3"}, datas(got)); diff != "" {
		t.Fatalf("Next after ack (-want +got):\n%s", diff)
	}
}

func testNextLimits(t *testing.T, b *buffer.Buffer, _ string) {
	mustPut(t, b, event("aaaa"), event("bbbb"), event("cccc"), event("dddddddddd"))
	tests := []struct {
		name          string
		max, maxBytes int
		want          []string
	}{
		{"max 2", 2, 0, []string{"aaaa", "bbbb"}},
		{"bytes 8", 0, 8, []string{"aaaa", "bbbb"}},
		{"bytes 11", 0, 11, []string{"aaaa", "bbbb"}},
		{"bytes 12", 0, 12, []string{"aaaa", "bbbb", "cccc"}},
		{"bytes below first", 0, 1, []string{"aaaa"}},
		{"max wins", 1, 100, []string{"aaaa"}},
		{"no limit", 0, 0, []string{"aaaa", "bbbb", "cccc", "dddddddddd"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, datas(mustNext(t, b, 0, tc.max, tc.maxBytes))); diff != "" {
				t.Fatalf("Next (-want +got):\n%s", diff)
			}
		})
	}
}

func testAckIdempotent(t *testing.T, b *buffer.Buffer, _ string) {
	base := b.Stats()
	mustPut(t, b, event("1"), event("2"), event("3"))
	es := mustNext(t, b, 0, 0, 0)
	mustAck(t, b, es[0].Seq, es[1].Seq)
	mustAck(t, b, es[0].Seq, es[1].Seq, 1<<60) // again, plus a seq never issued
	st := checkBalance(t, b)
	if got := st.Delivered - base.Delivered; got != 2 {
		t.Fatalf("delivered = %d, want 2", got)
	}
	if st.Queued != 1 {
		t.Fatalf("queued = %d, want 1", st.Queued)
	}
	if diff := cmp.Diff([]string{"3"}, datas(mustNext(t, b, 0, 0, 0))); diff != "" {
		t.Fatalf("remaining (-want +got):\n%s", diff)
	}
	mustAck(t, b) // empty ack is a no-op
}

func testCoalesce(t *testing.T, b *buffer.Buffer, _ string) {
	base := b.Stats()
	mustPut(t, b, state("plc1", "v1"), state("plc2", "w1"))
	mustPut(t, b, state("plc1", "v2"))
	// Same key in another stream is a different state.
	mustPut(t, b, buffer.Item{Stream: "baseline", Key: "plc1", Data: []byte("b1")})
	// Two versions in one Put: the later wins.
	mustPut(t, b, state("plc2", "w2"), state("plc2", "w3"))
	st := checkBalance(t, b)
	if got := st.Coalesced - base.Coalesced; got != 3 {
		t.Fatalf("coalesced = %d, want 3", got)
	}
	es := mustNext(t, b, 0, 0, 0)
	if diff := cmp.Diff([]string{"v2", "b1", "w3"}, datas(es)); diff != "" {
		t.Fatalf("queued after coalescing (-want +got):\n%s", diff)
	}
	if es[0].Key != "plc1" || es[0].Stream != "asset" {
		t.Fatalf("entry labels: %+v", es[0])
	}
	// Once acked, the key starts afresh.
	mustAck(t, b, seqs(es)...)
	mustPut(t, b, state("plc1", "v3"))
	st = checkBalance(t, b)
	if st.Coalesced-base.Coalesced != 3 || st.Queued != 1 {
		t.Fatalf("stats after ack and re-put: %+v", st)
	}
}

func testCoalesceAfterNext(t *testing.T, b *buffer.Buffer, _ string) {
	base := b.Stats()
	mustPut(t, b, state("plc1", "v1"))
	handed := mustNext(t, b, 0, 0, 0) // the uplink is publishing v1
	mustPut(t, b, state("plc1", "v2"))
	es := mustNext(t, b, 0, 0, 0)
	if diff := cmp.Diff([]string{"v2"}, datas(es)); diff != "" {
		t.Fatalf("after replacing handed-out entry (-want +got):\n%s", diff)
	}
	if es[0].Seq <= handed[0].Seq {
		t.Fatalf("replacement seq %d not after %d", es[0].Seq, handed[0].Seq)
	}
	// The PUBACK for v1 arrives: its entry is gone already, so nothing is
	// counted twice.
	mustAck(t, b, handed[0].Seq)
	st := checkBalance(t, b)
	if st.Delivered != base.Delivered || st.Coalesced-base.Coalesced != 1 || st.Queued != 1 {
		t.Fatalf("stats: %+v", st)
	}
	mustAck(t, b, es[0].Seq)
	if st := checkBalance(t, b); st.Delivered-base.Delivered != 1 || st.Queued != 0 {
		t.Fatalf("stats after acking v2: %+v", st)
	}
}

func testEventsNotCoalesced(t *testing.T, b *buffer.Buffer, _ string) {
	mustPut(t, b, event("same"), event("same"))
	mustPut(t, b, event("same"))
	st := checkBalance(t, b)
	if st.Queued != 3 {
		t.Fatalf("queued = %d, want 3", st.Queued)
	}
}

func testDrop(t *testing.T, b *buffer.Buffer, _ string) {
	base := b.Stats()
	mustPut(t, b, event("ok"), event("bad"), state("k", "bad state"))
	es := mustNext(t, b, 0, 0, 0)
	if err := b.Drop(context.Background(), buffer.ReasonPoison, es[1].Seq, es[2].Seq, es[1].Seq); err != nil {
		t.Fatalf("Drop: %v", err)
	}
	if err := b.Drop(context.Background(), "", es[0].Seq); !errors.Is(err, buffer.ErrInvalidItem) {
		t.Fatalf("Drop with empty reason: got %v, want ErrInvalidItem", err)
	}
	st := checkBalance(t, b)
	if got := st.Dropped[buffer.ReasonPoison] - base.Dropped[buffer.ReasonPoison]; got != 2 {
		t.Fatalf("dropped poison = %d, want 2", got)
	}
	// The state index entry went with the record: a new put is not a
	// coalesce.
	mustPut(t, b, state("k", "good state"))
	if got := b.Stats().Coalesced; got != base.Coalesced {
		t.Fatalf("coalesced = %d after re-put of dropped key, want %d", got, base.Coalesced)
	}
}

func testPersistence(t *testing.T, b *buffer.Buffer, path string) {
	mustPut(t, b, event("1"), state("k", "v1"), event("2"))
	es := mustNext(t, b, 0, 0, 0)
	mustAck(t, b, es[0].Seq)
	before := checkBalance(t, b)
	wantEntries := mustNext(t, b, 0, 0, 0)
	if err := b.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	b2 := openAt(t, path, buffer.Options{})
	after := checkBalance(t, b2)
	before.FileBytes, after.FileBytes, before.OldestAge, after.OldestAge = 0, 0, 0, 0
	if diff := cmp.Diff(before, after); diff != "" {
		t.Fatalf("stats across reopen (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantEntries, mustNext(t, b2, 0, 0, 0)); diff != "" {
		t.Fatalf("entries across reopen (-want +got):\n%s", diff)
	}
	// Coalescing survives the reopen, and sequences keep increasing.
	mustPut(t, b2, state("k", "v2"))
	got := mustNext(t, b2, 0, 0, 0)
	if diff := cmp.Diff([]string{"2", "v2"}, datas(got)); diff != "" {
		t.Fatalf("after reopen and put (-want +got):\n%s", diff)
	}
	if got[1].Seq <= es[2].Seq {
		t.Fatalf("seq %d reused after reopen (last was %d)", got[1].Seq, es[2].Seq)
	}
}

func testReady(t *testing.T, b *buffer.Buffer, _ string) {
	ready := b.Ready()
	select { // drain a signal left by the opener
	case <-ready:
	default:
	}
	mustAck(t, b, 12345)
	select {
	case <-ready:
		t.Fatal("Ready signalled by an Ack")
	default:
	}
	mustPut(t, b, event("1"))
	mustPut(t, b, event("2"))
	select {
	case <-ready:
	default:
		t.Fatal("Ready not signalled after Put")
	}
	select { // capacity 1: two puts leave one signal
	case <-ready:
		t.Fatal("Ready holds more than one signal")
	default:
	}
}

func testCancelledPut(t *testing.T, b *buffer.Buffer, _ string) {
	base := b.Stats()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := b.Put(ctx, event("never")); !errors.Is(err, context.Canceled) {
		t.Fatalf("Put with cancelled ctx: got %v, want context.Canceled", err)
	}
	if _, err := b.Next(ctx, 0, 0, 0); !errors.Is(err, context.Canceled) {
		t.Fatalf("Next with cancelled ctx: got %v, want context.Canceled", err)
	}
	st := checkBalance(t, b)
	if st.Accepted != base.Accepted || st.Queued != base.Queued {
		t.Fatalf("cancelled Put was accepted: %+v", st)
	}
	// An expired deadline is the same.
	dctx, dcancel := context.WithDeadline(context.Background(), time.Unix(0, 0))
	defer dcancel()
	if err := b.Put(dctx, event("never")); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Put past deadline: got %v", err)
	}
	if got := b.Stats().Accepted; got != base.Accepted {
		t.Fatalf("accepted = %d, want %d", got, base.Accepted)
	}
}

func testClosed(t *testing.T, b *buffer.Buffer, _ string) {
	if err := b.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := b.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	ctx := context.Background()
	if err := b.Put(ctx, event("x")); !errors.Is(err, buffer.ErrClosed) {
		t.Fatalf("Put after Close: %v", err)
	}
	if _, err := b.Next(ctx, 0, 0, 0); !errors.Is(err, buffer.ErrClosed) {
		t.Fatalf("Next after Close: %v", err)
	}
	if err := b.Ack(ctx, 1); !errors.Is(err, buffer.ErrClosed) {
		t.Fatalf("Ack after Close: %v", err)
	}
	if st := b.Stats(); st.Dropped == nil || st.Queued != 0 {
		t.Fatalf("Stats after Close: %+v", st)
	}
}
