package buffer_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/edgeward/edgeward/buffer"
)

// modelEntry is one queued record in the reference model.
type modelEntry struct {
	seq  uint64
	item buffer.Item
}

// model is a plain in-memory implementation of the buffer's documented
// semantics (coalescing, caps by priority then age, counters).
type model struct {
	maxBytes int64
	next     uint64
	q        []modelEntry
	st       buffer.Stats
}

func (m *model) put(items []buffer.Item) {
	for _, it := range items {
		if it.Key != "" {
			if i := slices.IndexFunc(m.q, func(e modelEntry) bool { return e.item.Stream == it.Stream && e.item.Key == it.Key }); i >= 0 {
				m.remove(i)
				m.st.Coalesced++
			}
		}
		m.next++
		m.q = append(m.q, modelEntry{seq: m.next, item: it})
		m.st.Accepted++
		m.st.Queued++
		m.st.Bytes += it.Size()
	}
	for m.maxBytes > 0 && m.st.Bytes > m.maxBytes {
		low := 0
		for i, e := range m.q {
			if e.item.Priority < m.q[low].item.Priority {
				low = i
			}
		}
		m.remove(low)
		m.st.Dropped[buffer.ReasonMaxBytes]++
	}
}

func (m *model) remove(i int) {
	m.st.Queued--
	m.st.Bytes -= m.q[i].item.Size()
	m.q = slices.Delete(m.q, i, i+1)
}

func (m *model) removeSeqs(seqs []uint64, count func()) {
	for _, s := range seqs {
		if i := slices.IndexFunc(m.q, func(e modelEntry) bool { return e.seq == s }); i >= 0 {
			m.remove(i)
			count()
		}
	}
}

// TestAgainstModel runs random operations against the buffer and the model
// and compares queue contents and counters after every operation.
func TestAgainstModel(t *testing.T) {
	t.Parallel()
	for _, maxBytes := range []int64{0, 4000} {
		t.Run(fmt.Sprintf("max_bytes=%d", maxBytes), func(t *testing.T) {
			t.Parallel()
			seed := uint64(maxBytes) + 11
			rnd := rand.New(rand.NewPCG(seed, 3))
			path := tempPath(t)
			b := openAt(t, path, buffer.Options{MaxBytes: maxBytes, CompactBelow: -1})
			m := &model{maxBytes: maxBytes, st: buffer.Stats{Dropped: map[string]uint64{}}}
			ctx := context.Background()
			randItem := func() buffer.Item {
				it := buffer.Item{Stream: []string{"asset", "threat", "status"}[rnd.IntN(3)], Priority: rnd.IntN(5)}
				if rnd.IntN(2) == 0 {
					it.Key = fmt.Sprintf("k%d", rnd.IntN(6))
				}
				it.Data = fmt.Appendf(nil, "d%d-%s", rnd.IntN(1000), make([]byte, rnd.IntN(200)))
				return it
			}
			randSeqs := func() []uint64 {
				var s []uint64
				for range 1 + rnd.IntN(4) {
					if len(m.q) > 0 && rnd.IntN(4) > 0 {
						s = append(s, m.q[rnd.IntN(len(m.q))].seq)
					} else {
						s = append(s, uint64(rnd.IntN(int(m.next)+2)))
					}
				}
				return s
			}
			for op := range 150 {
				var what string
				switch r := rnd.IntN(10); {
				case r < 5:
					items := make([]buffer.Item, 1+rnd.IntN(3))
					for i := range items {
						items[i] = randItem()
					}
					what = fmt.Sprintf("put %d", len(items))
					mustPut(t, b, items...)
					m.put(items)
				case r < 8:
					s := randSeqs()
					what = fmt.Sprintf("ack %v", s)
					mustAck(t, b, s...)
					m.removeSeqs(s, func() { m.st.Delivered++ })
				case r < 9:
					s := randSeqs()
					what = fmt.Sprintf("drop %v", s)
					if err := b.Drop(ctx, buffer.ReasonPoison, s...); err != nil {
						t.Fatal(err)
					}
					m.removeSeqs(s, func() { m.st.Dropped[buffer.ReasonPoison]++ })
				default:
					what = "reopen"
					if err := b.Close(); err != nil {
						t.Fatal(err)
					}
					b = openAt(t, path, buffer.Options{MaxBytes: maxBytes, CompactBelow: -1})
				}
				got := checkBalance(t, b)
				got.FileBytes, got.OldestAge = 0, 0
				if diff := cmp.Diff(m.st, got); diff != "" {
					t.Fatalf("op %d (%s): stats (-model +buffer):\n%s", op, what, diff)
				}
				var want []buffer.Entry
				for _, e := range m.q {
					want = append(want, buffer.Entry{Seq: e.seq, Stream: e.item.Stream, Key: e.item.Key, Data: e.item.Data})
				}
				es := mustNext(t, b, 0, 0, 0)
				if diff := cmp.Diff(want, es, cmpopts.IgnoreFields(buffer.Entry{}, "Time")); diff != "" {
					t.Fatalf("op %d (%s): entries (-model +buffer):\n%s", op, what, diff)
				}
			}
		})
	}
}
