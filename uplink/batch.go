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
	seqs    []uint64
	payload []byte // JSON array, compressed when Config.Gzip
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

// limiter spaces out sends so that the average rate stays under a byte rate.
// The zero rate means no limit. It is not safe for concurrent use.
type limiter struct {
	rate int64     // bytes per second, <= 0 = unlimited
	next time.Time // earliest time the next send may start
}

// reserve accounts n bytes sent at or after now and returns how long the
// caller must wait before sending them.
func (l *limiter) reserve(now time.Time, n int) time.Duration {
	if l.rate <= 0 {
		return 0
	}
	if l.next.Before(now) {
		l.next = now
	}
	wait := l.next.Sub(now)
	l.next = l.next.Add(time.Duration(float64(n) / float64(l.rate) * float64(time.Second)))
	return wait
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
