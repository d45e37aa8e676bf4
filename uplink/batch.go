package uplink

import (
	"bytes"
	"compress/gzip"
	"math/rand/v2"
	"time"
)

// batch is one MQTT message: a JSON array of records of one class.
type batch struct {
	class   string
	topic   string // set when first considered for publishing
	seqs    []uint64
	payload []byte // JSON array, compressed when Config.Gzip (once topic is set)
}

// splitBatches groups msgs by class, keeping the Source order within each
// class, and cuts each class into batches of at most maxRecords records and
// maxBytes JSON bytes (a lone record larger than maxBytes forms its own
// batch). Messages whose class cannot be a topic level are returned in bad.
func splitBatches(msgs []Message, maxRecords, maxBytes int) (batches []batch, bad []Message) {
	type open struct {
		idx  int // index into batches
		size int
	}
	cur := map[string]*open{}
	var bodies [][][]byte
	for _, m := range msgs {
		if !validLevel(m.Class) {
			bad = append(bad, m)
			continue
		}
		o := cur[m.Class]
		if o != nil {
			n := len(batches[o.idx].seqs)
			if n >= maxRecords || o.size+len(m.Data)+1 > maxBytes {
				o = nil // full: start another batch of this class
			}
		}
		need := len(m.Data) + 1 // the record and its comma
		if o == nil {
			batches = append(batches, batch{class: m.Class})
			bodies = append(bodies, nil)
			o = &open{idx: len(batches) - 1, size: 2} // the brackets
			cur[m.Class] = o
			need-- // the first record has no comma
		}
		b := &batches[o.idx]
		b.seqs = append(b.seqs, m.Seq)
		bodies[o.idx] = append(bodies[o.idx], m.Data)
		o.size += need
	}
	for i := range batches {
		batches[i].payload = encodeArray(bodies[i])
	}
	return batches, bad
}

// encodeArray joins JSON documents into one JSON array. The documents are
// not checked: invalid JSON in a record yields an invalid array.
func encodeArray(docs [][]byte) []byte {
	n := 2
	for _, d := range docs {
		n += len(d) + 1
	}
	out := make([]byte, 0, n)
	out = append(out, '[')
	for i, d := range docs {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, d...)
	}
	return append(out, ']')
}

// gzipBytes compresses b with gzip.
func gzipBytes(b []byte) []byte {
	var buf bytes.Buffer
	buf.Grow(len(b)/4 + 64)
	zw, _ := gzip.NewWriterLevel(&buf, gzip.DefaultCompression) // level is valid
	_, _ = zw.Write(b)                                          // bytes.Buffer writes do not fail
	_ = zw.Close()
	return buf.Bytes()
}

// limiter is the bandwidth cap: a token bucket of Config.BytesPerSecond
// that holds capBurst worth of bytes, kept as a theoretical arrival time
// (GCRA). The drain loop asks it before each PUBLISH (delay) and charges the
// packet's size when it hands the packet over; bytes that other packets put
// on the wire (CONNECT, PINGREQ, TLS records) are charged after the fact from
// the connection's byte counter, so the bucket tracks what the socket
// carried. Over any interval T the bytes sent stay under
// rate*(T+capBurst), plus one message larger than the bucket, which is
// allowed only when the bucket is full. The zero rate means no limit. It is
// not safe for concurrent use.
type limiter struct {
	rate int64     // bytes per second, <= 0 = unlimited
	tat  time.Time // when the bucket will be full again
}

// capBurst is how much of the rate a full bucket holds: a quarter of a
// second keeps every 5-second window within 105% of the cap.
const capBurst = 250 * time.Millisecond

// burstBytes is the bucket size in bytes (at least 1).
func (l *limiter) burstBytes() int {
	return max(int(l.rate*int64(capBurst)/int64(time.Second)), 1)
}

func (l *limiter) cost(n int) time.Duration {
	return time.Duration(float64(n) / float64(l.rate) * float64(time.Second))
}

// delay returns how long to wait, from now, before n bytes may be sent.
func (l *limiter) delay(now time.Time, n int) time.Duration {
	if l.rate <= 0 {
		return 0
	}
	tat := l.tat
	if tat.Before(now) {
		tat = now
	}
	if c := l.cost(n); c <= capBurst {
		return max(tat.Add(c).Sub(now)-capBurst, 0)
	}
	return tat.Sub(now) // larger than the bucket: wait until it is full
}

// charge accounts n bytes sent at now.
func (l *limiter) charge(now time.Time, n int) {
	if l.rate <= 0 || n <= 0 {
		return
	}
	if l.tat.Before(now) {
		l.tat = now
	}
	l.tat = l.tat.Add(l.cost(n))
}

// publishSize is the size on the wire of an MQTT 3.1.1 QoS 1 PUBLISH of
// payload on topic: fixed header (type byte and remaining length), topic
// length and bytes, packet id, payload.
func publishSize(topic string, payload int) int {
	rem := 2 + len(topic) + 2 + payload
	n := 1 + 1 + rem // type byte, first length byte, body
	for r := rem >> 7; r > 0; r >>= 7 {
		n++ // more length bytes
	}
	return n
}

// backoff returns the jittered exponential delay before retry number
// attempt (0-based): a uniform random duration in [d/2, d] where
// d = min(max, min * 2^attempt).
func backoff(attempt int, lo, hi time.Duration) time.Duration {
	d := lo
	for i := 0; i < attempt && d < hi; i++ {
		d *= 2
	}
	d = min(d, hi)
	if d <= 1 {
		return d
	}
	half := d / 2
	return half + rand.N(d-half+1)
}
