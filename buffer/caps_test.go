package buffer_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/edgeward/edgeward/buffer"
)

// item builds a fixed-size event record named name with priority prio, so
// that every record costs the same bytes.
func prioItem(name string, prio int) buffer.Item {
	return buffer.Item{Stream: "s", Priority: prio, Data: []byte(name + strings.Repeat(".", 100-len(name)))}
}

func names(es []buffer.Entry) []string {
	var out []string
	for _, e := range es {
		out = append(out, strings.TrimRight(string(e.Data), "."))
	}
	return out
}

func TestCapsDropLowestPriorityOldestFirst(t *testing.T) {
	t.Parallel()
	size := prioItem("x", 0).Size()
	tests := []struct {
		name   string
		opts   buffer.Options
		reason string
	}{
		{"max bytes", buffer.Options{MaxBytes: 5 * size}, buffer.ReasonMaxBytes},
		{"max bytes with slack", buffer.Options{MaxBytes: 6*size - 1}, buffer.ReasonMaxBytes},
		{"max entries", buffer.Options{MaxEntries: 5}, buffer.ReasonMaxEntries},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := openTemp(t, tc.opts)
			// Fill exactly: r1..r5 with priorities 1 0 2 0 1.
			for i, p := range []int{1, 0, 2, 0, 1} {
				mustPut(t, b, prioItem("r"+string(rune('1'+i)), p))
			}
			if st := checkBalance(t, b); st.Queued != 5 || len(st.Dropped) != 0 {
				t.Fatalf("after fill: %+v", st)
			}
			mustPut(t, b, prioItem("r6", 2)) // drops r2 (prio 0, oldest)
			mustPut(t, b, prioItem("r7", 0)) // drops r4 (prio 0, older than r7)
			mustPut(t, b, prioItem("r8", 4)) // drops r7 (last prio 0)
			// One Put of three: drops r1, r5 (prio 1) and r9 (prio 1, older than r10).
			mustPut(t, b, prioItem("r9", 1), prioItem("r10", 1), prioItem("r11", 3))
			st := checkBalance(t, b)
			if diff := cmp.Diff(map[string]uint64{tc.reason: 6}, st.Dropped); diff != "" {
				t.Fatalf("dropped (-want +got):\n%s", diff)
			}
			if st.Accepted != 11 || st.Queued != 5 || st.Bytes != 5*size {
				t.Fatalf("stats: %+v", st)
			}
			want := []string{"r3", "r6", "r8", "r10", "r11"}
			if diff := cmp.Diff(want, names(mustNext(t, b, 0, 0, 0))); diff != "" {
				t.Fatalf("survivors (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCapsCoalescedStateFreesRoom(t *testing.T) {
	t.Parallel()
	it := buffer.Item{Stream: "asset", Key: "plc", Data: make([]byte, 100)}
	b := openTemp(t, buffer.Options{MaxBytes: 2 * it.Size()})
	for range 5 {
		mustPut(t, b, it)
	}
	mustPut(t, b, buffer.Item{Stream: "asset", Key: "hmi", Data: make([]byte, 100)})
	st := checkBalance(t, b)
	if st.Coalesced != 4 || st.Queued != 2 || len(st.Dropped) != 0 {
		t.Fatalf("stats: %+v", st)
	}
}

func TestPutTooLarge(t *testing.T) {
	t.Parallel()
	small := prioItem("ok", 1)
	b := openTemp(t, buffer.Options{MaxBytes: 3 * small.Size()})
	big := buffer.Item{Stream: "s", Data: make([]byte, 3*small.Size())}
	tests := []struct {
		name  string
		items []buffer.Item
	}{
		{"alone", []buffer.Item{big}},
		{"with others", []buffer.Item{small, big, small}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := b.Put(context.Background(), tc.items...)
			if !errors.Is(err, buffer.ErrTooLarge) {
				t.Fatalf("Put: got %v, want ErrTooLarge", err)
			}
		})
	}
	if st := checkBalance(t, b); st.Accepted != 0 {
		t.Fatalf("refused Put accepted records: %+v", st)
	}
	// Exactly the cap fits.
	exact := buffer.Item{Stream: "s", Data: make([]byte, 3*small.Size()-(big.Size()-int64(len(big.Data))))}
	if exact.Size() != 3*small.Size() {
		t.Fatalf("test setup: exact size %d, want %d", exact.Size(), 3*small.Size())
	}
	mustPut(t, b, small)
	mustPut(t, b, exact)
	if st := checkBalance(t, b); st.Queued != 1 || st.Dropped[buffer.ReasonMaxBytes] != 1 {
		t.Fatalf("stats after exact fit: %+v", st)
	}
	// Oversized labels are refused too.
	if err := b.Put(context.Background(), buffer.Item{Key: strings.Repeat("k", 5000)}); !errors.Is(err, buffer.ErrInvalidItem) {
		t.Fatalf("Put with huge key: got %v, want ErrInvalidItem", err)
	}
}

func TestMaxAge(t *testing.T) {
	t.Parallel()
	clk := newClock()
	b := openTemp(t, buffer.Options{MaxAge: time.Hour, Now: clk.Now})
	itemTime := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC) // record's own time does not count
	mustPut(t, b, buffer.Item{Stream: "s", Data: []byte("a"), Time: itemTime}, event("b"))
	clk.Add(30 * time.Minute)
	mustPut(t, b, event("c"))
	if st := checkBalance(t, b); st.Queued != 3 || st.OldestAge != 30*time.Minute {
		t.Fatalf("before expiry: %+v", st)
	}
	clk.Add(31 * time.Minute) // a and b are 61 min old, c 31 min
	if diff := cmp.Diff([]string{"c"}, datas(mustNext(t, b, 0, 0, 0))); diff != "" {
		t.Fatalf("Next skips expired (-want +got):\n%s", diff)
	}
	mustPut(t, b, event("d")) // the write transaction expires a and b
	st := checkBalance(t, b)
	if diff := cmp.Diff(map[string]uint64{buffer.ReasonMaxAge: 2}, st.Dropped); diff != "" {
		t.Fatalf("dropped (-want +got):\n%s", diff)
	}
	if st.Queued != 2 || st.OldestAge != 31*time.Minute {
		t.Fatalf("after expiry: %+v", st)
	}
	if diff := cmp.Diff([]string{"c", "d"}, datas(mustNext(t, b, 0, 0, 0))); diff != "" {
		t.Fatalf("remaining (-want +got):\n%s", diff)
	}
}

func TestItemTimeDefaultsToAcceptance(t *testing.T) {
	t.Parallel()
	clk := newClock()
	b := openTemp(t, buffer.Options{Now: clk.Now})
	own := time.Date(2025, 5, 5, 5, 5, 5, 5, time.FixedZone("x", 3600))
	mustPut(t, b, event("no time"), buffer.Item{Stream: "s", Data: []byte("own"), Time: own})
	es := mustNext(t, b, 0, 0, 0)
	if !es[0].Time.Equal(clk.Now()) || !es[1].Time.Equal(own) || es[1].Time.Location() != time.UTC {
		t.Fatalf("times: %v, %v", es[0].Time, es[1].Time)
	}
}

func TestOpenInvalidOptions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		opts buffer.Options
	}{
		{"negative max bytes", buffer.Options{MaxBytes: -1}},
		{"negative max entries", buffer.Options{MaxEntries: -1}},
		{"negative max age", buffer.Options{MaxAge: -time.Second}},
		{"compact below 1", buffer.Options{CompactBelow: 1}},
		{"negative timeout", buffer.Options{Timeout: -1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := buffer.Open(tempPath(t), tc.opts)
			if !errors.Is(err, buffer.ErrInvalidOptions) {
				t.Fatalf("Open: got %v, want ErrInvalidOptions", err)
			}
		})
	}
}
