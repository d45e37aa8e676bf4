package passive

import (
	"time"
)

// streamHandler consumes the reassembled bytes of one TCP connection. It
// has the shape of modbus.Session (and of the OPC UA session to come).
// payload passed to Feed is only valid during the call.
type streamHandler interface {
	Feed(toServer bool, payload []byte, ts time.Time)
	Gap(toServer bool)
	Close(ts time.Time)
}

// pickUpHandler is a streamHandler that frames by a length field and so
// must know when a direction starts in the middle of the stream (the
// capture began after the connection's SYN).
type pickUpHandler interface {
	PickUp(toServer bool)
}

// Reassembly limits used when Config leaves them zero.
const (
	defaultFlowBuffer  = 64 << 10 // out-of-order bytes buffered per direction
	defaultMaxBuffered = 64 << 20 // out-of-order bytes buffered in total
	defaultGapTimeout  = 2 * time.Second
	poolSegmentSize    = 2048 // out-of-order segments up to this size reuse pooled buffers
	maxPooledSegments  = 4096 // and at most an eighth of the total bound
	maxSegmentsPerDir  = 1024 // out-of-order segments buffered per direction
	farFutureWindow    = 1 << 30
)

// oooSegment is an out-of-order segment held until the gap before it fills.
type oooSegment struct {
	seq  uint32
	data []byte // captured bytes (a copy)
	wire int    // length on the wire (> len(data) when the frame was truncated)
	ts   time.Time
}

// halfStream is the reassembly state of one direction of a connection.
type halfStream struct {
	next     uint32 // next expected sequence number
	start    uint32 // sequence number where the stream (re)started: after the SYN, or the first data byte seen
	synced   bool   // next and start are valid (SYN or first data segment seen)
	ooo      []oooSegment
	oooBytes int
}

// ReassemblyStats counts what the TCP reassembler did. Every byte that was
// not delivered in order is counted under one of these.
type ReassemblyStats struct {
	Segments        uint64 `json:"segments"`         // segments with payload
	Bytes           uint64 `json:"bytes"`            // payload bytes delivered in order
	Retransmissions uint64 `json:"retransmissions"`  // segments entirely already delivered
	Overlaps        uint64 `json:"overlaps"`         // segments partly already delivered (trimmed)
	OutOfOrder      uint64 `json:"out_of_order"`     // segments buffered ahead of a gap
	Gaps            uint64 `json:"gaps"`             // gaps skipped (Gap called)
	GapsOverflow    uint64 `json:"gaps_overflow"`    // of which forced by the per-flow or total buffer bound
	GapsTimeout     uint64 `json:"gaps_timeout"`     // of which forced by the gap timeout or the end of a flow
	SkippedBytes    uint64 `json:"skipped_bytes"`    // sequence space skipped by gaps
	TruncatedFrames uint64 `json:"truncated_frames"` // segments cut by the snap length (the missing bytes are a gap)
	// Buffered is the memory held now for out-of-order segments (the
	// capacity of their buffers, at least their length), within
	// Config.MaxReassemblyBytes.
	Buffered int64 `json:"buffered_bytes"`
}

// assembler reassembles the directions of connections under shared limits.
// It is not safe for concurrent use.
type assembler struct {
	flowBuffer  int
	maxBuffered int64
	gapTimeout  time.Duration
	pool        [][]byte
	maxPool     int
	stats       ReassemblyStats
}

func newAssembler(flowBuffer int, maxBuffered int64, gapTimeout time.Duration) *assembler {
	if flowBuffer <= 0 {
		flowBuffer = defaultFlowBuffer
	}
	if maxBuffered <= 0 {
		maxBuffered = defaultMaxBuffered
	}
	if gapTimeout <= 0 {
		gapTimeout = defaultGapTimeout
	}
	maxPool := int(min(maxPooledSegments, maxBuffered/8/poolSegmentSize))
	return &assembler{flowBuffer: flowBuffer, maxBuffered: maxBuffered, gapTimeout: gapTimeout, maxPool: maxPool}
}

func (a *assembler) alloc(n int) []byte {
	if n <= poolSegmentSize {
		if k := len(a.pool); k > 0 {
			b := a.pool[k-1]
			a.pool = a.pool[:k-1]
			return b[:n]
		}
		return make([]byte, n, poolSegmentSize)
	}
	return make([]byte, n)
}

func (a *assembler) free(b []byte) {
	if cap(b) == poolSegmentSize && len(a.pool) < a.maxPool {
		a.pool = append(a.pool, b[:0])
	}
}

// add processes one segment of direction toServer of a connection whose
// handler is h. It returns after every deliverable byte has been fed.
func (a *assembler) add(hs *halfStream, h streamHandler, toServer bool, s *segment, ts time.Time) {
	seq := s.seq
	if s.flags&tcpSYN != 0 {
		seq++
		if !hs.synced || (len(hs.ooo) == 0 && !hs.staleSYN(seq)) {
			hs.next, hs.start, hs.synced = seq, seq, true
		}
	}
	n := s.payloadLen
	if n == 0 {
		return
	}
	a.stats.Segments++
	if !hs.synced {
		// Mid-stream pick-up (no SYN seen): the first data segment starts
		// the stream, and a handler that frames by length is told that
		// what came before it was never seen.
		hs.next, hs.start, hs.synced = seq, seq, true
		if p, ok := h.(pickUpHandler); ok {
			p.PickUp(toServer)
		}
	}
	diff := int32(seq - hs.next)
	if diff > 0 && diff < farFutureWindow {
		a.buffer(hs, h, toServer, seq, s.payload, n, ts)
		return
	}
	if diff < 0 && diff > -farFutureWindow {
		skip := int(-int64(diff))
		if skip >= n {
			a.stats.Retransmissions++
			return
		}
		a.stats.Overlaps++
		seq += uint32(skip)
		n -= skip
		data := s.payload
		if skip < len(data) {
			data = data[skip:]
		} else {
			data = nil
		}
		a.deliver(hs, h, toServer, data, n, ts)
	} else if diff == 0 {
		a.deliver(hs, h, toServer, s.payload, n, ts)
	} else { // 1 GiB or more away either way: a new start after a gap (missed SYN of a reused 4-tuple)
		// what is buffered belongs to the old sequence space: skip it too
		a.stats.SkippedBytes += uint64(hs.oooBytes)
		a.release(hs)
		a.gap(hs, h, toServer, seq)
		hs.start = seq
		a.deliver(hs, h, toServer, s.payload, n, ts)
	}
	a.drain(hs, h, toServer)
}

// staleSYN reports whether a SYN whose first data byte would be at seq
// repeats the start of this stream rather than starting a new one: a
// retransmitted SYN or SYN/ACK (a TCP Fast Open SYN carries data), or a
// capture that shows the SYN after the first data segment. Only the exact
// start counts: a reused 4-tuple gets a new initial sequence number.
func (hs *halfStream) staleSYN(seq uint32) bool {
	return hs.synced && seq == hs.start
}

// deliver feeds data (the captured part of wire bytes) and advances next.
func (a *assembler) deliver(hs *halfStream, h streamHandler, toServer bool, data []byte, wire int, ts time.Time) {
	if len(data) > wire {
		data = data[:wire]
	}
	if len(data) > 0 {
		h.Feed(toServer, data, ts)
		a.stats.Bytes += uint64(len(data))
	}
	hs.next += uint32(wire)
	if missing := wire - len(data); missing > 0 {
		a.stats.TruncatedFrames++
		a.stats.Gaps++
		a.stats.SkippedBytes += uint64(missing)
		h.Gap(toServer)
	}
}

// gap tells the handler bytes are lost and moves next to seq.
func (a *assembler) gap(hs *halfStream, h streamHandler, toServer bool, seq uint32) {
	a.stats.Gaps++
	if d := seq - hs.next; d < farFutureWindow {
		a.stats.SkippedBytes += uint64(d)
	}
	hs.next = seq
	h.Gap(toServer)
}

// buffer holds an out-of-order segment, forcing gaps while a bound is exceeded.
func (a *assembler) buffer(hs *halfStream, h streamHandler, toServer bool, seq uint32, data []byte, wire int, ts time.Time) {
	a.stats.OutOfOrder++
	if len(data) > wire {
		data = data[:wire]
	}
	b := a.alloc(len(data))
	copy(b, data)
	// insert sorted by sequence number (relative to next)
	rel := seq - hs.next
	i := len(hs.ooo)
	for i > 0 && hs.ooo[i-1].seq-hs.next > rel {
		i--
	}
	hs.ooo = append(hs.ooo, oooSegment{})
	copy(hs.ooo[i+1:], hs.ooo[i:])
	hs.ooo[i] = oooSegment{seq: seq, data: b, wire: wire, ts: ts}
	hs.oooBytes += len(b)
	a.stats.Buffered += int64(cap(b))
	for len(hs.ooo) > 0 && (hs.oooBytes > a.flowBuffer || a.stats.Buffered > a.maxBuffered || len(hs.ooo) > maxSegmentsPerDir) {
		a.stats.GapsOverflow++
		a.skipToBuffered(hs, h, toServer)
	}
}

// skipToBuffered declares the bytes before the first buffered segment lost
// and delivers what follows.
func (a *assembler) skipToBuffered(hs *halfStream, h streamHandler, toServer bool) {
	a.gap(hs, h, toServer, hs.ooo[0].seq)
	a.drain(hs, h, toServer)
}

// drain delivers buffered segments that have become contiguous.
func (a *assembler) drain(hs *halfStream, h streamHandler, toServer bool) {
	for len(hs.ooo) > 0 {
		o := hs.ooo[0]
		diff := int32(o.seq - hs.next)
		if diff > 0 {
			return
		}
		hs.ooo[0] = oooSegment{}
		hs.ooo = hs.ooo[1:]
		if len(hs.ooo) == 0 {
			hs.ooo = hs.ooo[:0:0]
		}
		hs.oooBytes -= len(o.data)
		a.stats.Buffered -= int64(cap(o.data))
		skip := int(-int64(diff))
		if skip >= o.wire {
			a.stats.Retransmissions++
		} else {
			data := o.data
			if skip < len(data) {
				data = data[skip:]
			} else {
				data = nil
			}
			if skip > 0 {
				a.stats.Overlaps++
			}
			a.deliver(hs, h, toServer, data, o.wire-skip, o.ts)
		}
		a.free(o.data)
	}
}

// expire forces gaps for buffered segments older than the gap timeout.
func (a *assembler) expire(hs *halfStream, h streamHandler, toServer bool, now time.Time) {
	for len(hs.ooo) > 0 && now.Sub(hs.ooo[0].ts) >= a.gapTimeout {
		a.stats.GapsTimeout++
		a.skipToBuffered(hs, h, toServer)
	}
}

// flush delivers everything still buffered, with gaps, as when the
// connection ends.
func (a *assembler) flush(hs *halfStream, h streamHandler, toServer bool) {
	for len(hs.ooo) > 0 {
		a.stats.GapsTimeout++
		a.skipToBuffered(hs, h, toServer)
	}
}

// release drops buffered segments without delivering them.
func (a *assembler) release(hs *halfStream) {
	for _, o := range hs.ooo {
		a.stats.Buffered -= int64(cap(o.data))
		a.free(o.data)
	}
	hs.ooo = nil
	hs.oooBytes = 0
}
