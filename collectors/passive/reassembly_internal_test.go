package passive

import (
	"bytes"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/edgeward/edgeward/collectors/passive/internal/pcapgen"
)

// sink records what the assembler delivers for one connection.
type sink struct {
	data   [2][]byte
	gaps   [2]int
	closed int
}

func (s *sink) Feed(toServer bool, p []byte, _ time.Time) {
	d := 0
	if !toServer {
		d = 1
	}
	s.data[d] = append(s.data[d], p...)
}

func (s *sink) Gap(toServer bool) {
	if toServer {
		s.gaps[0]++
	} else {
		s.gaps[1]++
	}
}

func (s *sink) Close(time.Time) { s.closed++ }

// feedSegs runs segments (seq relative to isn, payload from stream) through
// one half stream and returns the sink.
func feedSegs(a *assembler, isn uint32, stream []byte, segs [][2]int, syn bool) *sink {
	var hs halfStream
	out := &sink{}
	ts := time.Unix(0, 0)
	if syn {
		a.add(&hs, out, true, &segment{seq: isn - 1, flags: tcpSYN}, ts)
	}
	for _, sg := range segs {
		p := stream[sg[0]:sg[1]]
		a.add(&hs, out, true, &segment{seq: isn + uint32(sg[0]), payload: p, payloadLen: len(p), flags: tcpACK}, ts)
	}
	a.flush(&hs, out, true)
	return out
}

func TestReassembly(t *testing.T) {
	t.Parallel()
	stream := []byte("0123456789abcdefghijklmnopqrstuvwxyz")
	tests := []struct {
		name     string
		segs     [][2]int
		syn      bool
		want     string
		wantGaps int
	}{
		{"in order", [][2]int{{0, 10}, {10, 20}, {20, 36}}, true, string(stream), 0},
		{"retransmission", [][2]int{{0, 10}, {0, 10}, {10, 36}, {10, 20}}, true, string(stream), 0},
		{"overlap trimmed", [][2]int{{0, 10}, {5, 20}, {15, 36}}, true, string(stream), 0},
		{"out of order", [][2]int{{0, 10}, {20, 36}, {10, 20}}, true, string(stream), 0},
		{"reverse", [][2]int{{30, 36}, {20, 30}, {10, 20}, {0, 10}}, true, string(stream), 0},
		{"mid-stream", [][2]int{{10, 20}, {20, 36}}, false, string(stream[10:]), 0},
		{"hole never filled", [][2]int{{0, 10}, {20, 36}}, true, string(stream[:10]) + string(stream[20:]), 1},
		{"wrap around", [][2]int{{0, 36}}, true, string(stream), 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for _, isn := range []uint32{1000, 0xfffffff0} {
				a := newAssembler(0, 0, 0)
				out := feedSegs(a, isn, stream, tc.segs, tc.syn)
				if diff := cmp.Diff(tc.want, string(out.data[0])); diff != "" {
					t.Errorf("isn %#x: stream (-want +got):\n%s", isn, diff)
				}
				if out.gaps[0] != tc.wantGaps {
					t.Errorf("isn %#x: gaps = %d, want %d", isn, out.gaps[0], tc.wantGaps)
				}
				if a.stats.Buffered != 0 {
					t.Errorf("buffered = %d after flush", a.stats.Buffered)
				}
			}
		})
	}
}

// pickUpSink is a sink that frames by length: it must hear of a mid-stream
// pick-up.
type pickUpSink struct {
	sink
	pickUps int
	fedOnce bool // a Feed came before the pick-up notice
}

func (s *pickUpSink) PickUp(bool) {
	s.pickUps++
	s.fedOnce = s.data[0] != nil
}

// TestReassemblyPickUp: a direction that starts without a SYN tells a
// pickUpHandler once, before its first bytes; one that saw its SYN never.
func TestReassemblyPickUp(t *testing.T) {
	t.Parallel()
	stream := []byte("0123456789abcdefghijklmnopqrstuvwxyz")
	for _, syn := range []bool{false, true} {
		a := newAssembler(0, 0, 0)
		var hs halfStream
		out := &pickUpSink{}
		ts := time.Unix(0, 0)
		if syn {
			a.add(&hs, out, true, &segment{seq: 999, flags: tcpSYN}, ts)
		}
		for _, sg := range [][2]int{{10, 20}, {20, 36}} {
			p := stream[sg[0]:sg[1]]
			a.add(&hs, out, true, &segment{seq: 1000 + uint32(sg[0]), payload: p, payloadLen: len(p), flags: tcpACK}, ts)
		}
		want := 1
		if syn {
			want = 0
		}
		if out.pickUps != want || out.fedOnce || out.gaps[0] != 0 {
			t.Errorf("syn %v: %d pick-ups (want %d), fed before it %v, gaps %d", syn, out.pickUps, want, out.fedOnce, out.gaps[0])
		}
	}
}

func TestReassemblyOverflowForcesGap(t *testing.T) {
	t.Parallel()
	a := newAssembler(100, 0, 0)
	stream := bytes.Repeat([]byte("x"), 400)
	// the first 10 bytes never arrive; 390 bytes queue behind the hole
	var segs [][2]int
	for i := 10; i < 400; i += 30 {
		segs = append(segs, [2]int{i, min(i+30, 400)})
	}
	out := feedSegs(a, 1, stream, append([][2]int{{0, 0}}, segs...), true)
	if got := len(out.data[0]); got != 390 {
		t.Errorf("delivered %d bytes, want 390", got)
	}
	if a.stats.GapsOverflow == 0 {
		t.Error("no overflow gap counted")
	}
}

// FuzzReassembly cuts a stream into random segments, reorders, repeats and
// overlaps them, and checks that the assembler never panics, never holds
// more than its bounds, and delivers the stream exactly when no gap was
// declared.
func FuzzReassembly(f *testing.F) {
	f.Add(uint64(1), uint32(0), uint16(512))
	f.Add(uint64(7), uint32(0xffffff00), uint16(100))
	f.Add(uint64(42), uint32(12345), uint16(4096))
	f.Fuzz(func(t *testing.T, seed uint64, isn uint32, flowBuf uint16) {
		r := rand.New(rand.NewPCG(seed, uint64(isn)))
		stream := make([]byte, 1+r.IntN(5000))
		for i := range stream {
			stream[i] = byte(r.IntN(256))
		}
		var segs [][2]int
		for range 1 + r.IntN(60) {
			lo := r.IntN(len(stream))
			hi := lo + 1 + r.IntN(min(len(stream)-lo, 600))
			segs = append(segs, [2]int{lo, hi})
		}
		// make sure every byte is covered at least once
		for i := 0; i < len(stream); i += 500 {
			segs = append(segs, [2]int{i, min(i+500, len(stream))})
		}
		r.Shuffle(len(segs), func(i, j int) { segs[i], segs[j] = segs[j], segs[i] })
		a := newAssembler(int(flowBuf)+1, 1<<20, 0)
		var hs halfStream
		out := &sink{}
		ts := time.Unix(0, 0)
		a.add(&hs, out, true, &segment{seq: isn - 1, flags: tcpSYN}, ts)
		for _, sg := range segs {
			p := stream[sg[0]:sg[1]]
			a.add(&hs, out, true, &segment{seq: isn + uint32(sg[0]), payload: p, payloadLen: len(p)}, ts)
			if hs.oooBytes > int(flowBuf)+1 || a.stats.Buffered > 1<<20 {
				t.Fatalf("buffered %d bytes over the bound %d", hs.oooBytes, flowBuf)
			}
		}
		a.flush(&hs, out, true)
		if a.stats.Buffered != 0 || hs.oooBytes != 0 {
			t.Fatalf("buffered = %d after flush", a.stats.Buffered)
		}
		if len(out.data[0]) > len(stream) {
			t.Fatalf("delivered %d bytes of a %d-byte stream", len(out.data[0]), len(stream))
		}
		if out.gaps[0] == 0 && !bytes.Equal(out.data[0], stream) {
			t.Fatalf("no gap declared but the stream differs (%d of %d bytes)", len(out.data[0]), len(stream))
		}
	})
}

// FuzzEngine feeds arbitrary bytes through the whole engine as TCP
// segments of one connection (sequence numbers, flags and cut points taken
// from the input) whose server port is 502 (Modbus), 4840 (OPC UA) or 4841
// (OPC UA recognised from its first chunk header, or other TCP) as
// (seed>>32)%3 says: no panic, and nothing left buffered after the final
// flush. The OPC UA seeds include a None session and the 132-byte message
// declaring a 2^31-element array (gopcua v0.8.0 allocates 16 GB for it).
func FuzzEngine(f *testing.F) {
	f.Add([]byte{0, 1, 0, 0, 0, 6, 1, 3, 0, 0, 0, 10}, uint64(1))
	f.Add([]byte("\x00\x01\x00\x00\x00\x03\x01\x83\x02garbage"), uint64(2))
	session := pcapgen.Concat(pcapgen.Hello("opc.tcp://plc:4840"), pcapgen.Ack(),
		pcapgen.Open(pcapgen.PolicyNone, nil, 1, pcapgen.OpenRequest(1)),
		pcapgen.Msg(2, pcapgen.CreateSessionRequest("urn:fuzz", nil)),
		pcapgen.Msg(3, pcapgen.ActivateSessionRequest(pcapgen.TokenUserName, pcapgen.UserToken("u", "p", ""))),
		pcapgen.Msg(4, pcapgen.WriteRequest("x")), pcapgen.Msg(5, pcapgen.ReadResponse()), pcapgen.CloseChannel(6))
	f.Add(session, uint64(1)<<32)
	f.Add(session, uint64(2)<<32|7)
	f.Add(pcapgen.HugeArrayMsg(), uint64(1)<<32)
	f.Add(pcapgen.Concat(pcapgen.Hello("opc.tcp://x"), pcapgen.HugeArrayMsg()), uint64(2)<<32)
	f.Fuzz(func(t *testing.T, data []byte, seed uint64) {
		e, err := NewEngine(DefaultConfig(), nil)
		if err != nil {
			t.Fatal(err)
		}
		r := rand.New(rand.NewPCG(seed, 0))
		port := [3]uint16{502, 4840, 4841}[(seed>>32)%3]
		var seq [2]uint32
		ts := time.Unix(1, 0)
		for len(data) > 0 {
			n := 1 + r.IntN(min(len(data), 300))
			toServer := r.IntN(2) == 0
			d := 1
			if toServer {
				d = 0
			}
			s := seq[d]
			if r.IntN(4) == 0 {
				s += uint32(r.IntN(600)) - 300
			}
			flags := byte(tcpACK)
			if r.IntN(20) == 0 {
				flags |= byte(1 << r.IntN(3)) // FIN, SYN or RST
			}
			frame := ipv4TCP(data[:n], 0)
			frame[22], frame[23] = byte(port>>8), byte(port)
			if !toServer { // swap addresses and ports
				copy(frame[12:20], append(append([]byte{}, frame[16:20]...), frame[12:16]...))
				frame[20], frame[21], frame[22], frame[23] = frame[22], frame[23], frame[20], frame[21]
			}
			frame[20+4], frame[20+5], frame[20+6], frame[20+7] = byte(s>>24), byte(s>>16), byte(s>>8), byte(s)
			frame[20+13] = flags
			e.Process(Packet{Data: frame, Timestamp: ts, CaptureLength: len(frame), Length: len(frame), LinkType: 101})
			seq[d] += uint32(n)
			data = data[n:]
			ts = ts.Add(time.Duration(r.IntN(3000)) * time.Millisecond)
			if r.IntN(10) == 0 {
				e.Flush(ts)
			}
		}
		e.Flush(time.Time{})
		_ = e.Records(ts)
		if st := e.Stats(); st.Reassembly.Buffered != 0 || st.Flows.Active != 0 {
			t.Fatalf("after the final flush: buffered %d, active %d", st.Reassembly.Buffered, st.Flows.Active)
		}
		_ = e.Summary()
	})
}

// TestReassemblyGlobalBudget holds out-of-order data on many directions and
// checks that the total never exceeds the global budget.
func TestReassemblyGlobalBudget(t *testing.T) {
	t.Parallel()
	a := newAssembler(1<<20, 1000, 0)
	ts := time.Unix(0, 0)
	payload := make([]byte, 300)
	var gaps int
	for i := range 20 {
		var hs halfStream
		out := &sink{}
		a.add(&hs, out, true, &segment{seq: 99, flags: tcpSYN}, ts)
		// the first byte is missing: everything queues
		a.add(&hs, out, true, &segment{seq: 101, payload: payload, payloadLen: len(payload)}, ts)
		if a.stats.Buffered > 1000 {
			t.Fatalf("direction %d: %d bytes buffered over a 1000-byte budget", i, a.stats.Buffered)
		}
		gaps += out.gaps[0]
	}
	if gaps == 0 || a.stats.GapsOverflow == 0 {
		t.Errorf("budget never forced a gap (gaps %d, stats %+v)", gaps, a.stats)
	}
}

// TestReassemblyJump checks that a segment 1 GiB or more away from the
// expected sequence number, behind or ahead, restarts the stream after a
// gap instead of being dropped as a retransmission or held forever.
func TestReassemblyJump(t *testing.T) {
	t.Parallel()
	for _, off := range []uint32{0x80000000 + 5, 0x40000000, 0xc0000000} {
		a := newAssembler(0, 0, 0)
		var hs halfStream
		out := &sink{}
		ts := time.Unix(0, 0)
		a.add(&hs, out, true, &segment{seq: 1000, payload: []byte("abc"), payloadLen: 3}, ts)
		a.add(&hs, out, true, &segment{seq: 1003 + off, payload: []byte("xyz"), payloadLen: 3}, ts)
		if string(out.data[0]) != "abcxyz" || out.gaps[0] != 1 || a.stats.Buffered != 0 {
			t.Errorf("offset %#x: stream %q, gaps %d, buffered %d", off, out.data[0], out.gaps[0], a.stats.Buffered)
		}
	}
}

// TestReassemblyJumpDropsBuffered checks that segments buffered ahead of a
// gap in the old sequence space are dropped when the stream jumps to a new
// one, not delivered later into the new stream.
func TestReassemblyJumpDropsBuffered(t *testing.T) {
	t.Parallel()
	a := newAssembler(0, 0, 0)
	var hs halfStream
	out := &sink{}
	ts := time.Unix(0, 0)
	seg := func(seq uint32, p string) *segment {
		return &segment{seq: seq, payload: []byte(p), payloadLen: len(p)}
	}
	a.add(&hs, out, true, seg(1000, "abc"), ts)
	a.add(&hs, out, true, seg(1100, "old"), ts) // ahead of a gap: buffered
	a.add(&hs, out, true, seg(0x90000000, "new"), ts)
	a.add(&hs, out, true, seg(0x90000003, "er"), ts)
	a.flush(&hs, out, true)
	if string(out.data[0]) != "abcnewer" || out.gaps[0] != 1 || a.stats.Buffered != 0 {
		t.Errorf("stream %q, gaps %d, buffered %d; want \"abcnewer\", 1 gap, nothing buffered", out.data[0], out.gaps[0], a.stats.Buffered)
	}
}
