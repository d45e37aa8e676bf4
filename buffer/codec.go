package buffer

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"time"
)

// On-disk layout (format 2).
//
// Bucket "q" (queue):    key = seq (8 bytes, big endian), value = record (below).
// Bucket "p" (priority): key = prio (8 bytes, sign-flipped big endian) + seq, value = empty.
// Bucket "i" (index):    key = uvarint(len(stream)) + stream + key, value = seq.
// Bucket "m" (meta):     counters as 8-byte big-endian values; "drop:<reason>" per reason.
// Bucket "c" (caller meta, format 2): key = caller's key, value = meta value (below).
//
// Record value, version 2: version byte, CRC-32C (4 bytes, big endian) of the
// queue key followed by the rest of the value, accept time (int64 ns), item
// time (int64 ns), priority (int64), uvarint len + stream, uvarint len + key,
// data. Version 1 (format 1 files) is the same without the CRC; it is still
// read, unverified.
//
// Meta value: version byte (1), CRC-32C of the key followed by the data, data.
const (
	formatVersion = 2
	recordVersion = 2
	headerLenV1   = 1 + 8 + 8 + 8
	headerLen     = 1 + 4 + 8 + 8 + 8

	metaVersion   = 1
	metaHeaderLen = 1 + 4

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

	// maxMetaKey and maxMetaValue bound one caller meta entry.
	maxMetaKey   = 1024
	maxMetaValue = 1 << 20
)

var (
	bucketQueue = []byte("q")
	bucketPrio  = []byte("p")
	bucketIndex = []byte("i")
	bucketMeta  = []byte("m")
	bucketUser  = []byte("c")

	metaFormat    = []byte("format")
	metaAccepted  = []byte("accepted")
	metaDelivered = []byte("delivered")
	metaCoalesced = []byte("coalesced")
	metaQueued    = []byte("queued")
	metaBytes     = []byte("bytes")
	metaDropPfx   = []byte("drop:")
)

// Errors of decodeRecord and decodeMeta.
var (
	// errBadRecord: the value is not a record of a known version.
	errBadRecord = errors.New("malformed record")
	// errChecksum: the value parses but its CRC does not match; the
	// decoded fields may be damaged.
	errChecksum = errors.New("record checksum mismatch")
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// record is a decoded queue value; stream, key and data alias the input.
type record struct {
	hdr      int // header length of the stored version
	accept   int64
	itemTime int64
	prio     int64
	stream   []byte
	key      []byte
	data     []byte
}

// size is the number of bytes the record is charged against MaxBytes.
func (r *record) size() int64 {
	return recordSize(len(r.stream), len(r.key), len(r.data)) - int64(headerLen-r.hdr)
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

// encodeRecord appends the value for it, stored under seq, to dst.
func encodeRecord(dst []byte, seq uint64, it *Item, accept, itemTime int64) []byte {
	start := len(dst)
	dst = append(dst, recordVersion, 0, 0, 0, 0)
	dst = binary.BigEndian.AppendUint64(dst, uint64(accept))
	dst = binary.BigEndian.AppendUint64(dst, uint64(itemTime))
	dst = binary.BigEndian.AppendUint64(dst, uint64(int64(it.Priority)))
	dst = binary.AppendUvarint(dst, uint64(len(it.Stream)))
	dst = append(dst, it.Stream...)
	dst = binary.AppendUvarint(dst, uint64(len(it.Key)))
	dst = append(dst, it.Key...)
	dst = append(dst, it.Data...)
	binary.BigEndian.PutUint32(dst[start+1:], recordCRC(seq, dst[start+metaHeaderLen:]))
	return dst
}

func recordCRC(seq uint64, rest []byte) uint32 {
	var k [seqKeyLen]byte
	binary.BigEndian.PutUint64(k[:], seq)
	return crc32.Update(crc32.Checksum(k[:], crcTable), crcTable, rest)
}

// decodeRecord parses the queue value stored under seq into r. The slices in
// r alias v. It never panics, whatever v holds. A version-2 value whose CRC
// does not match gives errChecksum with r filled in from the damaged bytes
// (bounded by v); a value that does not parse gives errBadRecord.
func decodeRecord(seq uint64, v []byte, r *record) error {
	*r = record{}
	if len(v) == 0 {
		return errBadRecord
	}
	var rest []byte
	switch v[0] {
	case 1:
		if len(v) < headerLenV1 {
			return errBadRecord
		}
		r.hdr, rest = headerLenV1, v[1:]
	case recordVersion:
		if len(v) < headerLen {
			return errBadRecord
		}
		r.hdr, rest = headerLen, v[metaHeaderLen:]
	default:
		return errBadRecord
	}
	r.accept = int64(binary.BigEndian.Uint64(rest))
	r.itemTime = int64(binary.BigEndian.Uint64(rest[8:]))
	r.prio = int64(binary.BigEndian.Uint64(rest[16:]))
	body := rest[24:]
	var ok bool
	if r.stream, body, ok = readLabel(body); !ok {
		return errBadRecord
	}
	if r.key, body, ok = readLabel(body); !ok {
		return errBadRecord
	}
	r.data = body
	if v[0] == recordVersion && binary.BigEndian.Uint32(v[1:]) != recordCRC(seq, rest) {
		return errChecksum
	}
	return nil
}

// encodeMeta returns the stored form of a caller meta value.
func encodeMeta(key string, val []byte) []byte {
	out := make([]byte, metaHeaderLen, metaHeaderLen+len(val))
	out[0] = metaVersion
	out = append(out, val...)
	crc := crc32.Update(crc32.Checksum([]byte(key), crcTable), crcTable, val)
	binary.BigEndian.PutUint32(out[1:], crc)
	return out
}

// decodeMeta verifies a stored caller meta value and returns its data, which
// aliases v.
func decodeMeta(key, v []byte) ([]byte, error) {
	if len(v) < metaHeaderLen || v[0] != metaVersion {
		return nil, errBadRecord
	}
	val := v[metaHeaderLen:]
	if binary.BigEndian.Uint32(v[1:]) != crc32.Update(crc32.Checksum(key, crcTable), crcTable, val) {
		return nil, errChecksum
	}
	return val, nil
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
	return appendPrioKey(make([]byte, 0, prioKeyLen), prio, seq)
}

func appendPrioKey(dst []byte, prio int64, seq uint64) []byte {
	dst = binary.BigEndian.AppendUint64(dst, uint64(prio)^(1<<63))
	return binary.BigEndian.AppendUint64(dst, seq)
}

func indexKey(stream, key []byte) []byte {
	return appendIndexKey(make([]byte, 0, indexKeyLen(len(stream), len(key))), stream, key)
}

func appendIndexKey[S []byte | string](dst []byte, stream, key S) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(stream)))
	dst = append(dst, stream...)
	return append(dst, key...)
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
