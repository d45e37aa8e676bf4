package buffer

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// FuzzDecodeRecord feeds arbitrary bytes (a damaged file) to the record
// decoder: it must never panic, decoded fields must lie within the input, and
// whatever it accepts must re-encode to an equivalent record.
func FuzzDecodeRecord(f *testing.F) {
	it := Item{Stream: "asset", Key: "plc1", Priority: 2, Data: []byte(`{"a":1}`)}
	f.Add(uint64(7), encodeRecord(nil, 7, &it, 1, 2))
	f.Add(uint64(0), encodeRecord(nil, 0, &Item{}, 0, 0))
	f.Add(uint64(1), encodeV1(&it, 1, 2))
	f.Add(uint64(1), []byte{recordVersion})
	f.Add(uint64(1), append(make([]byte, headerLen), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01))
	f.Fuzz(func(t *testing.T, seq uint64, v []byte) {
		var r record
		err := decodeRecord(seq, v, &r)
		if err != nil && !errors.Is(err, errChecksum) {
			return
		}
		if r.hdr+len(r.stream)+len(r.key)+len(r.data) > len(v) {
			t.Fatalf("decoded fields longer than the input")
		}
		if err != nil {
			return
		}
		again := encodeRecord(nil, seq, &Item{Stream: string(r.stream), Key: string(r.key), Priority: int(r.prio), Data: r.data}, r.accept, r.itemTime)
		var r2 record
		if err := decodeRecord(seq, again, &r2); err != nil || !bytes.Equal(r2.data, r.data) || r2.size() != recordSize(len(r.stream), len(r.key), len(r.data)) {
			t.Fatalf("re-encoded record does not round-trip: %v", err)
		}
	})
}

// encodeV1 is the record encoding of format 1 (no checksum), still read.
func encodeV1(it *Item, accept, itemTime int64) []byte {
	dst := []byte{1}
	dst = binary.BigEndian.AppendUint64(dst, uint64(accept))
	dst = binary.BigEndian.AppendUint64(dst, uint64(itemTime))
	dst = binary.BigEndian.AppendUint64(dst, uint64(int64(it.Priority)))
	dst = binary.AppendUvarint(dst, uint64(len(it.Stream)))
	dst = append(dst, it.Stream...)
	dst = binary.AppendUvarint(dst, uint64(len(it.Key)))
	dst = append(dst, it.Key...)
	return append(dst, it.Data...)
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
		v := encodeRecord(nil, 42, &it, tm.UnixNano(), 42)
		if len(v) != valueLen(len(it.Stream), len(it.Key), len(it.Data)) {
			t.Fatalf("valueLen = %d, encoded %d", valueLen(len(it.Stream), len(it.Key), len(it.Data)), len(v))
		}
		for _, enc := range []struct {
			name string
			v    []byte
			size int64
		}{{"v2", v, it.Size()}, {"v1", encodeV1(&it, tm.UnixNano(), 42), it.Size() - 4}} {
			var r record
			if err := decodeRecord(42, enc.v, &r); err != nil {
				t.Fatalf("%s decode: %v", enc.name, err)
			}
			if string(r.stream) != it.Stream || string(r.key) != it.Key || int(r.prio) != it.Priority ||
				!bytes.Equal(r.data, it.Data) || r.accept != tm.UnixNano() || r.itemTime != 42 {
				t.Fatalf("%s round trip of %+v gave %+v", enc.name, it, r)
			}
			if r.size() != enc.size {
				t.Fatalf("%s size %d, want %d", enc.name, r.size(), enc.size)
			}
		}
	}
}

// TestRecordChecksum: every single-bit flip anywhere in a stored record, and
// the same bytes under another sequence number, fail to decode.
func TestRecordChecksum(t *testing.T) {
	t.Parallel()
	it := Item{Stream: "threat", Key: "k", Priority: 4, Data: []byte(`{"kind":"modbus.write_new_master"}`)}
	v := encodeRecord(nil, 1000, &it, 5, 6)
	var r record
	for i := range v {
		for bit := range 8 {
			bad := bytes.Clone(v)
			bad[i] ^= 1 << bit
			if err := decodeRecord(1000, bad, &r); err == nil {
				t.Fatalf("flip of bit %d in byte %d not detected", bit, i)
			}
		}
	}
	if err := decodeRecord(1001, v, &r); !errors.Is(err, errChecksum) {
		t.Fatalf("record under another sequence: got %v, want errChecksum", err)
	}
	if err := decodeRecord(1000, v, &r); err != nil {
		t.Fatalf("intact record: %v", err)
	}
}

func TestMetaChecksum(t *testing.T) {
	t.Parallel()
	v := encodeMeta("checkpoint/a", []byte("state"))
	if got, err := decodeMeta([]byte("checkpoint/a"), v); err != nil || string(got) != "state" {
		t.Fatalf("decodeMeta = %q, %v", got, err)
	}
	if _, err := decodeMeta([]byte("checkpoint/b"), v); err == nil {
		t.Fatal("meta value under another key accepted")
	}
	for i := range v {
		bad := bytes.Clone(v)
		bad[i] ^= 0x10
		if _, err := decodeMeta([]byte("checkpoint/a"), bad); err == nil {
			t.Fatalf("flip in byte %d not detected", i)
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
		if prioKeyPrio(keys[i]) < prioKeyPrio(keys[i-1]) {
			t.Fatalf("prioKeyPrio out of order at %d", i)
		}
	}
	if prioKeyPrio(prioKey(-5, 9)) != -5 {
		t.Fatal("prioKeyPrio does not invert prioKey")
	}
}

// FuzzScanFile feeds arbitrary file images (damaged buffer files) to the
// salvage reader: it must never panic or loop, and whatever it hands out must
// be a record or meta value that verifies.
func FuzzScanFile(f *testing.F) {
	path := filepath.Join(f.TempDir(), "seed.db")
	b, err := Open(path, Options{MaxBytes: 24 << 10, CompactBelow: -1})
	if err != nil {
		f.Fatal(err)
	}
	ctx := context.Background()
	for i := range 12 {
		it := Item{Stream: "threat", Priority: 4, Data: bytes.Repeat([]byte{'a' + byte(i)}, 300)}
		if i%3 == 0 {
			it = Item{Stream: "asset", Key: string(rune('k' + i)), Priority: 2, Data: it.Data}
		}
		if err := b.PutWithMeta(ctx, map[string][]byte{"checkpoint/x": {byte(i)}}, it); err != nil {
			f.Fatal(err)
		}
	}
	if err := b.Close(); err != nil {
		f.Fatal(err)
	}
	img, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(img)
	f.Add(img[:len(img)/2])
	f.Add(append(make([]byte, 8192), img[8192:]...)) // both meta pages gone
	f.Fuzz(func(t *testing.T, img []byte) {
		if len(img) > 256<<10 {
			return // the reader is linear in pages; big inputs only slow the fuzzer
		}
		p := filepath.Join(t.TempDir(), "f.db")
		if err := os.WriteFile(p, img, 0o600); err != nil {
			t.Fatal(err)
		}
		_, _ = scanFile(p, func(seq uint64, v []byte, _ *record) {
			var r record
			if err := decodeRecord(seq, v, &r); err != nil {
				t.Fatalf("scanFile handed out record %d that does not decode: %v", seq, err)
			}
		}, func(k, v []byte) {
			if _, err := decodeMeta(k, v); err != nil {
				t.Fatalf("scanFile handed out meta %q that does not verify: %v", k, err)
			}
		})
	})
}
