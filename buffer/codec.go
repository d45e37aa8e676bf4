package buffer

import (
	"encoding/binary"
	"errors"
	"time"
)

// On-disk layout (format 1).
//
// Bucket "q" (queue):   key = seq (8 bytes, big endian), value = record (below).
// Bucket "p" (priority): key = prio (8 bytes, sign-flipped big endian) + seq, value = empty.
// Bucket "i" (index):   key = uvarint(len(stream)) + stream + key, value = seq.
// Bucket "m" (meta):    counters as 8-byte big-endian values; "drop:<reason>" per reason.
//
// Record value: version byte, accept time (int64 ns), item time (int64 ns),
// priority (int64), uvarint len + stream, uvarint len + key, data.
const (
	formatVersion = 1
	recordVersion = 1
	headerLen     = 1 + 8 + 8 + 8

	// seqKeyLen and prioKeyLen are charged in Item.Size for the queue key and
	// the priority index entry.
	seqKeyLen  = 8
	prioKeyLen = 16

	// maxLabelLen bounds len(Stream)+len(Key) so that index keys stay far
	// below bbolt's MaxKeySize.
	maxLabelLen = 4096

	// maxRecordData is the hard per-record limit applied even when MaxBytes
	// is 0 (bbolt values must stay below 2 GiB, and one record should never be
	// a large fraction of the mmap on 32-bit hosts).
	maxRecordData = 64 << 20
)

var (
	bucketQueue = []byte("q")
	bucketPrio  = []byte("p")
	bucketIndex = []byte("i")
	bucketMeta  = []byte("m")

	metaFormat    = []byte("format")
	metaAccepted  = []byte("accepted")
	metaDelivered = []byte("delivered")
	metaCoalesced = []byte("coalesced")
	metaQueued    = []byte("queued")
	metaBytes     = []byte("bytes")
	metaDropPfx   = []byte("drop:")
)

// errBadRecord is returned by decodeRecord for a value that is not a valid
// format-1 record.
var errBadRecord = errors.New("malformed record")

// record is a decoded queue value; stream, key and data alias the input.
type record struct {
	accept   int64
	itemTime int64
	prio     int64
	stream   []byte
	key      []byte
	data     []byte
}

// size is the number of bytes the record is charged against MaxBytes.
func (r *record) size() int64 {
	return recordSize(len(r.stream), len(r.key), len(r.data))
}

// Size reports the number of bytes the item is charged against
// Options.MaxBytes once stored: its data, stream and key plus the fixed
// per-record overhead of the queue key, header and indexes. It depends only on
// the lengths of Stream, Key and Data.
func (it Item) Size() int64 {
	return recordSize(len(it.Stream), len(it.Key), len(it.Data))
}

func recordSize(stream, key, data int) int64 {
	n := int64(seqKeyLen + valueLen(stream, key, data) + prioKeyLen)
	if key > 0 {
		n += int64(indexKeyLen(stream, key) + seqKeyLen)
	}
	return n
}

func valueLen(stream, key, data int) int {
	return headerLen + uvarintLen(uint64(stream)) + stream + uvarintLen(uint64(key)) + key + data
}

func indexKeyLen(stream, key int) int {
	return uvarintLen(uint64(stream)) + stream + key
}

func uvarintLen(x uint64) int {
	n := 1
	for x >= 0x80 {
		x >>= 7
		n++
	}
	return n
}

// encodeRecord appends the value for it to dst.
func encodeRecord(dst []byte, it *Item, accept, itemTime int64) []byte {
	dst = append(dst, recordVersion)
	dst = binary.BigEndian.AppendUint64(dst, uint64(accept))
	dst = binary.BigEndian.AppendUint64(dst, uint64(itemTime))
	dst = binary.BigEndian.AppendUint64(dst, uint64(int64(it.Priority)))
	dst = binary.AppendUvarint(dst, uint64(len(it.Stream)))
	dst = append(dst, it.Stream...)
	dst = binary.AppendUvarint(dst, uint64(len(it.Key)))
	dst = append(dst, it.Key...)
	return append(dst, it.Data...)
}

// decodeRecord parses a queue value into r. The slices in r alias v. It never
// panics, whatever v holds.
func decodeRecord(v []byte, r *record) error {
	*r = record{}
	if len(v) < headerLen || v[0] != recordVersion {
		return errBadRecord
	}
	r.accept = int64(binary.BigEndian.Uint64(v[1:]))
	r.itemTime = int64(binary.BigEndian.Uint64(v[9:]))
	r.prio = int64(binary.BigEndian.Uint64(v[17:]))
	rest := v[headerLen:]
	var ok bool
	if r.stream, rest, ok = readLabel(rest); !ok {
		return errBadRecord
	}
	if r.key, rest, ok = readLabel(rest); !ok {
		return errBadRecord
	}
	r.data = rest
	return nil
}

func readLabel(b []byte) (label, rest []byte, ok bool) {
	n, w := binary.Uvarint(b)
	if w <= 0 || n > uint64(len(b)-w) {
		return nil, nil, false
	}
	end := w + int(n)
	return b[w:end:end], b[end:], true
}

func seqKey(seq uint64) []byte {
	return binary.BigEndian.AppendUint64(make([]byte, 0, seqKeyLen), seq)
}

func prioKey(prio int64, seq uint64) []byte {
	k := make([]byte, 0, prioKeyLen)
	k = binary.BigEndian.AppendUint64(k, uint64(prio)^(1<<63))
	return binary.BigEndian.AppendUint64(k, seq)
}

func indexKey(stream, key []byte) []byte {
	k := make([]byte, 0, indexKeyLen(len(stream), len(key)))
	k = binary.AppendUvarint(k, uint64(len(stream)))
	k = append(k, stream...)
	return append(k, key...)
}

func u64(v []byte) uint64 {
	if len(v) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(v)
}

func putU64(v uint64) []byte {
	return binary.BigEndian.AppendUint64(make([]byte, 0, 8), v)
}

func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromNanos(n int64) time.Time {
	return time.Unix(0, n).UTC()
}
