package collectors

import (
	"crypto/rand"
	"encoding/binary"
	"sync"
	"time"
)

// crockford is the ULID alphabet (Crockford's base32).
const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// IDSource generates ULIDs: 26-character, lexicographically sortable, unique
// identifiers (48-bit millisecond time, 80 random bits). Within one
// millisecond the random part is incremented, so ids from one source are
// strictly increasing. The zero value is ready to use and safe for
// concurrent use.
type IDSource struct {
	mu     sync.Mutex
	lastMs uint64
	hi     uint16 // upper 16 of the 80 random bits
	lo     uint64 // lower 64 of the 80 random bits
}

// New returns a new ULID for time t.
func (s *IDSource) New(t time.Time) string {
	ms := uint64(t.UnixMilli())
	s.mu.Lock()
	if ms <= s.lastMs {
		ms = s.lastMs
		s.lo++
		if s.lo == 0 {
			s.hi++
		}
	} else {
		var b [10]byte
		_, _ = rand.Read(b[:])
		s.hi = binary.BigEndian.Uint16(b[:2])
		s.lo = binary.BigEndian.Uint64(b[2:])
		s.lastMs = ms
	}
	hi, lo := s.hi, s.lo
	s.mu.Unlock()

	var raw [16]byte
	binary.BigEndian.PutUint64(raw[:8], ms<<16|uint64(hi))
	binary.BigEndian.PutUint64(raw[8:], lo)
	return encodeULID(raw)
}

// encodeULID writes the 128 bits of raw as 26 base32 characters, most
// significant first (the first character carries only 3 bits).
func encodeULID(raw [16]byte) string {
	var out [26]byte
	hi := binary.BigEndian.Uint64(raw[:8])
	lo := binary.BigEndian.Uint64(raw[8:])
	for i := 25; i >= 0; i-- {
		out[i] = crockford[lo&31]
		lo = lo>>5 | hi<<59
		hi >>= 5
	}
	return string(out[:])
}
