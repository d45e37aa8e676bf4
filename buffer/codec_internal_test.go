package buffer

import (
	"bytes"
	"testing"
	"time"
)

// FuzzDecodeRecord feeds arbitrary bytes (a damaged file) to the record
// decoder: it must never panic, decoded fields must lie within the input, and
// whatever it accepts must re-encode to an equivalent record.
func FuzzDecodeRecord(f *testing.F) {
	it := Item{Stream: "asset", Key: "plc1", Priority: 2, Data: []byte(`{"a":1}`)}
	f.Add(encodeRecord(nil, &it, 1, 2))
	f.Add(encodeRecord(nil, &Item{}, 0, 0))
	f.Add([]byte{recordVersion})
	f.Add(append(make([]byte, headerLen), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01))
	f.Fuzz(func(t *testing.T, v []byte) {
		var r record
		if err := decodeRecord(v, &r); err != nil {
			return
		}
		if headerLen+len(r.stream)+len(r.key)+len(r.data) > len(v) {
			t.Fatalf("decoded fields longer than the input")
		}
		again := encodeRecord(nil, &Item{Stream: string(r.stream), Key: string(r.key), Priority: int(r.prio), Data: r.data}, r.accept, r.itemTime)
		var r2 record
		if err := decodeRecord(again, &r2); err != nil || !bytes.Equal(r2.data, r.data) || r2.size() != r.size() {
			t.Fatalf("re-encoded record does not round-trip: %v", err)
		}
	})
}

func TestRecordRoundTrip(t *testing.T) {
	t.Parallel()
	tm := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []Item{
		{},
		{Stream: "s", Data: []byte("x")},
		{Stream: "asset", Key: "k", Priority: -3, Data: bytes.Repeat([]byte("y"), 300)},
		{Stream: string(make([]byte, 200)), Key: "kk", Priority: 1 << 30},
	}
	for _, it := range tests {
		v := encodeRecord(nil, &it, tm.UnixNano(), 42)
		if len(v) != valueLen(len(it.Stream), len(it.Key), len(it.Data)) {
			t.Fatalf("valueLen = %d, encoded %d", valueLen(len(it.Stream), len(it.Key), len(it.Data)), len(v))
		}
		var r record
		if err := decodeRecord(v, &r); err != nil {
			t.Fatalf("decode: %v", err)
		}
		if string(r.stream) != it.Stream || string(r.key) != it.Key || int(r.prio) != it.Priority ||
			!bytes.Equal(r.data, it.Data) || r.accept != tm.UnixNano() || r.itemTime != 42 {
			t.Fatalf("round trip of %+v gave %+v", it, r)
		}
		if r.size() != it.Size() {
			t.Fatalf("size %d != Item.Size %d", r.size(), it.Size())
		}
	}
}

func TestPrioKeyOrder(t *testing.T) {
	t.Parallel()
	keys := [][]byte{prioKey(-5, 9), prioKey(-1, 1), prioKey(0, 1), prioKey(0, 2), prioKey(3, 1), prioKey(1<<40, 0)}
	for i := 1; i < len(keys); i++ {
		if bytes.Compare(keys[i-1], keys[i]) >= 0 {
			t.Fatalf("prio keys out of order at %d", i)
		}
	}
}
