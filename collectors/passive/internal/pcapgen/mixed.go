package pcapgen

// Corpus of connections that mix valid frames with malformed ones and with
// fuzzed segments, for comparing the framing with Wireshark's dissectors.

import (
	"encoding/binary"
	"math/rand/v2"
	"net"
	"net/netip"
)

// Piece is one TCP segment's payload of a Stream.
type Piece struct {
	ToServer bool
	Payload  []byte
}

// Stream is one generated connection: its segments in capture order.
type Stream struct {
	Client, Server Endpoint
	Pieces         []Piece
	// Kinds names the variants the stream holds, for test messages.
	Kinds []string
}

// WriteStreams writes each stream in turn as a complete connection
// (handshake, data segments, close) with contiguous sequence numbers.
func WriteStreams(w *Writer, streams []Stream) error {
	for _, s := range streams {
		c := w.Conn(s.Client, s.Server)
		if err := c.Handshake(); err != nil {
			return err
		}
		for _, p := range s.Pieces {
			if err := c.Write(c.Data(p.ToServer, p.Payload)); err != nil {
				return err
			}
		}
		if err := c.Close(); err != nil {
			return err
		}
	}
	return nil
}

// endpoints returns the client and server of stream i: a distinct client
// address per stream so that flows stay apart.
func endpoints(i int, port uint16) (Endpoint, Endpoint) {
	cli := Endpoint{MAC: net.HardwareAddr{2, 0, 0, 0, 1, byte(i)},
		Addr: netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}), uint16(40000+i%20000))}
	srv := Endpoint{MAC: net.HardwareAddr{2, 0, 0, 0, 2, 1},
		Addr: netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 2, 0, 1}), port)}
	return cli, srv
}

// builder accumulates the pieces of one stream.
type builder struct {
	r     *rand.Rand
	s     Stream
	tid   uint16
	fuzzy bool // mutate some valid pieces (fuzzed stream)
}

func (b *builder) add(kind string, toServer bool, payloads ...[]byte) {
	b.s.Kinds = append(b.s.Kinds, kind)
	for _, p := range payloads {
		if b.fuzzy && b.r.IntN(4) == 0 {
			p = b.mutate(p)
		}
		if len(p) > 0 {
			b.s.Pieces = append(b.s.Pieces, Piece{ToServer: toServer, Payload: p})
		}
	}
}

// mutate returns a copy of p with a few bytes flipped, or cut short, or
// with bytes inserted or appended.
func (b *builder) mutate(p []byte) []byte {
	q := append([]byte(nil), p...)
	switch b.r.IntN(5) {
	case 0, 1:
		for range 1 + b.r.IntN(3) {
			if len(q) > 0 {
				q[b.r.IntN(len(q))] ^= byte(1 + b.r.IntN(255))
			}
		}
	case 2:
		if len(q) > 1 {
			q = q[:b.r.IntN(len(q))]
		}
	case 3:
		i := b.r.IntN(len(q) + 1)
		q = append(q[:i], append(b.bytes(1+b.r.IntN(6)), q[i:]...)...)
	default:
		q = append(q, b.bytes(1+b.r.IntN(12))...)
	}
	return q
}

func (b *builder) bytes(n int) []byte {
	out := make([]byte, n)
	for i := range out {
		out[i] = byte(b.r.Uint32())
	}
	return out
}

// split cuts p into 2 or 3 pieces at random offsets.
func (b *builder) split(p []byte) [][]byte {
	if len(p) < 2 {
		return [][]byte{p}
	}
	cuts := []int{1 + b.r.IntN(len(p)-1)}
	if len(p) > 3 && b.r.IntN(2) == 0 {
		c := 1 + b.r.IntN(len(p)-1)
		if c != cuts[0] {
			cuts = append(cuts, c)
		}
		if cuts[0] > cuts[len(cuts)-1] {
			cuts[0], cuts[1] = cuts[1], cuts[0]
		}
	}
	var out [][]byte
	prev := 0
	for _, c := range append(cuts, len(p)) {
		out = append(out, p[prev:c])
		prev = c
	}
	return out
}

// modbusPair returns a valid request and its response (sometimes an
// exception) of a random function code.
func (b *builder) modbusPair() (req, resp []byte) {
	b.tid++
	tid, unit := b.tid, uint8(1+b.r.IntN(3))
	if b.r.IntN(10) == 0 {
		unit = 255
	}
	addr, qty := uint16(b.r.IntN(1000)), uint16(1+b.r.IntN(10))
	a := []byte{byte(addr >> 8), byte(addr), byte(qty >> 8), byte(qty)}
	fc := []uint8{1, 2, 3, 4, 5, 6, 8, 15, 16, 23, 43, 90, 65}[b.r.IntN(13)]
	switch fc {
	case 1, 2:
		n := (int(qty) + 7) / 8
		req, resp = ADU(tid, unit, append([]byte{fc}, a...)...), ADU(tid, unit, append([]byte{fc, byte(n)}, make([]byte, n)...)...)
	case 3, 4:
		req, resp = ADU(tid, unit, append([]byte{fc}, a...)...), ADU(tid, unit, append([]byte{fc, byte(2 * qty)}, make([]byte, 2*qty)...)...)
	case 5, 6:
		req = ADU(tid, unit, fc, a[0], a[1], 0xff, 0)
		resp = append([]byte(nil), req...)
	case 8:
		req = ADU(tid, unit, 8, 0, 0, 0x12, 0x34)
		resp = append([]byte(nil), req...)
	case 15, 16:
		n := 2 * int(qty)
		if fc == 15 {
			n = (int(qty) + 7) / 8
		}
		req = ADU(tid, unit, append(append([]byte{fc}, a...), append([]byte{byte(n)}, make([]byte, n)...)...)...)
		resp = ADU(tid, unit, append([]byte{fc}, a...)...)
	case 23:
		req = ADU(tid, unit, append(append([]byte{23}, a...), a[0], a[1], 0, 1, 2, 0, 7)...)
		resp = ADU(tid, unit, append([]byte{23, byte(2 * qty)}, make([]byte, 2*qty)...)...)
	case 43:
		req = ADU(tid, unit, 43, 14, 1, 0)
		resp = ADU(tid, unit, 43, 14, 1, 1, 0, 0, 2, 0, 4, 'A', 'C', 'M', 'E', 1, 2, 'P', '1')
	default: // vendor functions carry opaque data
		req = ADU(tid, unit, append([]byte{fc}, b.bytes(b.r.IntN(12))...)...)
		resp = ADU(tid, unit, append([]byte{fc}, b.bytes(b.r.IntN(12))...)...)
	}
	if b.r.IntN(5) == 0 {
		resp = Exception(tid, unit, fc, uint8(1+b.r.IntN(11)))
	}
	return req, resp
}

// withHeader returns a copy of adu with protocol id pid and length field l.
func withHeader(adu []byte, pid, l uint16) []byte {
	q := append([]byte(nil), adu...)
	binary.BigEndian.PutUint16(q[2:4], pid)
	binary.BigEndian.PutUint16(q[4:6], l)
	return q
}

// ModbusVariants names the kinds of exchanges MixedModbus draws from.
var ModbusVariants = []string{
	"valid", "two-in-one", "split", "pipelined-split", "bad-protocol-id-start", "bad-protocol-id-chain",
	"length-0-1-start", "length-0-1-chain", "length-over-254", "length-huge", "short-pdu", "fc-0",
	"garbage", "garbage-then-valid", "valid-then-garbage", "tiny-segment", "fuzzed", "tls-record",
}

// MixedModbus returns n Modbus/TCP connections to port 502 drawn from
// seed: valid exchanges of mixed function codes and exceptions, ADUs
// pipelined two to a segment and split across segments, mixed with
// malformed frames (every ModbusVariants kind) and fuzzed segments. The same
// seed gives the same streams.
func MixedModbus(seed uint64, n int) []Stream {
	r := rand.New(rand.NewPCG(seed, 0x6d6f646275730a))
	out := make([]Stream, 0, n)
	for i := range n {
		b := &builder{r: r}
		b.s.Client, b.s.Server = endpoints(i, 502)
		b.fuzzy = r.IntN(4) == 0
		for range 3 + r.IntN(8) {
			b.modbusExchange(ModbusVariants[r.IntN(len(ModbusVariants))])
		}
		out = append(out, b.s)
	}
	return out
}

func (b *builder) modbusExchange(kind string) {
	r := b.r
	req, resp := b.modbusPair()
	toServer := r.IntN(2) == 0 // direction of the damaged frame
	pick := func() []byte {
		if toServer {
			return req
		}
		return resp
	}
	switch kind {
	case "valid":
		b.add(kind, true, req)
		b.add(kind, false, resp)
	case "two-in-one":
		req2, resp2 := b.modbusPair()
		b.add(kind, true, Concat(req, req2))
		b.add(kind, false, Concat(resp, resp2))
	case "split":
		b.add(kind, true, b.split(req)...)
		b.add(kind, false, b.split(resp)...)
	case "pipelined-split":
		req2, resp2 := b.modbusPair()
		b.add(kind, true, b.split(Concat(req, req2))...)
		b.add(kind, false, b.split(Concat(resp, resp2))...)
	case "bad-protocol-id-start":
		p := pick()
		b.add(kind, toServer, withHeader(p, uint16(1+r.IntN(0xffff)), uint16(len(p)-6)))
	case "bad-protocol-id-chain":
		p := pick()
		b.add(kind, toServer, Concat(p, withHeader(p, uint16(1+r.IntN(0xffff)), uint16(len(p)-6)), p))
	case "length-0-1-start":
		p := pick()
		b.add(kind, toServer, withHeader(p[:7], 0, uint16(r.IntN(2))), p)
	case "length-0-1-chain":
		p := pick()
		l := uint16(r.IntN(2))
		b.add(kind, toServer, Concat(p, withHeader(p[:6+int(l)], 0, l), p))
	case "length-over-254":
		p := pick()
		l := uint16(255 + r.IntN(1200))
		q := withHeader(p, 0, l)
		b.add(kind, toServer, q)
		if r.IntN(2) == 0 { // the rest of the declared ADU follows
			b.add(kind, toServer, b.bytes(int(l)+6-len(q)))
		}
	case "length-huge":
		p := pick()
		b.add(kind, toServer, withHeader(p, 0, uint16(0x8000+r.IntN(0x8000))))
	case "short-pdu":
		p := pick()
		if len(p) > 9 {
			p = withHeader(p[:len(p)-2], 0, uint16(len(p)-8))
		}
		b.add(kind, toServer, p)
	case "fc-0":
		p := append([]byte(nil), pick()...)
		p[7] = 0
		b.add(kind, toServer, p)
	case "garbage":
		b.add(kind, toServer, b.bytes(1+r.IntN(40)))
	case "garbage-then-valid":
		b.add(kind, toServer, Concat(b.bytes(1+r.IntN(20)), pick()))
	case "valid-then-garbage":
		b.add(kind, toServer, Concat(pick(), b.bytes(1+r.IntN(20))))
	case "tiny-segment":
		p := pick()
		k := 1 + r.IntN(7)
		b.add(kind, toServer, p[:k], p[k:])
	case "fuzzed":
		b.add(kind, true, b.mutate(req))
		b.add(kind, false, b.mutate(resp))
	case "tls-record": // tshark's TLS heuristic takes the connection
		b.add(kind, toServer, append([]byte{byte(20 + r.IntN(5)), 3, byte(1 + r.IntN(3)), 0, 0x20}, b.bytes(r.IntN(40))...))
	}
}

// OPCUAVariants names the kinds of chunks MixedOPCUA draws from.
var OPCUAVariants = []string{
	"valid", "two-in-one", "split", "intermediate-chunks", "abort-chunk", "bad-type", "bad-chunk-type",
	"size-below-8", "size-short", "size-long", "size-huge", "garbage", "garbage-then-valid", "fuzzed",
}

// MixedOPCUA returns n OPC UA Binary connections to port 4840 drawn from
// seed: a Hello, Acknowledge and OpenSecureChannel, then service messages
// mixed with malformed chunks (every OPCUAVariants kind) and fuzzed segments.
func MixedOPCUA(seed uint64, n int) []Stream {
	r := rand.New(rand.NewPCG(seed, 0x6f706375610a))
	out := make([]Stream, 0, n)
	for i := range n {
		b := &builder{r: r}
		b.s.Client, b.s.Server = endpoints(i, 4840)
		b.fuzzy = r.IntN(4) == 0
		b.add("hello", true, Hello("opc.tcp://plc:4840"))
		b.add("hello", false, Ack())
		b.add("open", true, Open(PolicyNone, nil, 1, OpenRequest(1)))
		b.add("open", false, Open(PolicyNone, nil, 1, OpenResponse()))
		for k := range 3 + r.IntN(8) {
			b.opcuaExchange(OPCUAVariants[r.IntN(len(OPCUAVariants))], uint32(2+k))
		}
		if r.IntN(2) == 0 {
			b.add("close", true, CloseChannel(99))
		}
		out = append(out, b.s)
	}
	return out
}

func (b *builder) opcuaPair(id uint32) (req, resp []byte) {
	switch b.r.IntN(4) {
	case 0:
		return Msg(id, WriteRequest("valve")), Msg(id, ServiceFault(0x80340000))
	case 1:
		return Msg(id, CallRequest(85, 1000)), Msg(id, ServiceFault(0))
	default:
		return Msg(id, ReadRequest("temp")), Msg(id, ReadResponse())
	}
}

// withSize returns a copy of chunk with its message size field set to n.
func withSize(chunk []byte, n uint32) []byte {
	q := append([]byte(nil), chunk...)
	binary.LittleEndian.PutUint32(q[4:8], n)
	return q
}

func (b *builder) opcuaExchange(kind string, id uint32) {
	r := b.r
	req, resp := b.opcuaPair(id)
	toServer := r.IntN(2) == 0
	pick := func() []byte {
		if toServer {
			return req
		}
		return resp
	}
	switch kind {
	case "valid":
		b.add(kind, true, req)
		b.add(kind, false, resp)
	case "two-in-one":
		req2, resp2 := b.opcuaPair(id + 100)
		b.add(kind, true, Concat(req, req2))
		b.add(kind, false, Concat(resp, resp2))
	case "split":
		b.add(kind, true, b.split(req)...)
		b.add(kind, false, b.split(resp)...)
	case "intermediate-chunks":
		body := req[8:]
		h := body[:16]
		mid := len(body[16:]) / 2
		c1 := Chunk("MSG", 'C', Concat(h, body[16:16+mid]))
		c2 := Chunk("MSG", 'F', Concat(h, body[16+mid:]))
		b.add(kind, true, c1, c2)
		b.add(kind, false, resp)
	case "abort-chunk":
		b.add(kind, true, Chunk("MSG", 'C', req[8:]), Chunk("MSG", 'A', Concat(req[8:24], Err(0x80010000, "abort")[8:])))
	case "bad-type":
		p := append([]byte(nil), pick()...)
		copy(p, []string{"XYZ", "MSX", "HEL"[:2] + "X", "msg"}[r.IntN(4)])
		b.add(kind, toServer, p)
	case "bad-chunk-type":
		p := append([]byte(nil), pick()...)
		p[3] = []byte{'X', 'f', 0, 'Z'}[r.IntN(4)]
		b.add(kind, toServer, p)
	case "size-below-8":
		b.add(kind, toServer, withSize(pick(), uint32(r.IntN(8))))
	case "size-short":
		p := pick()
		b.add(kind, toServer, withSize(p, uint32(8+r.IntN(len(p)-8))))
	case "size-long":
		p := pick()
		b.add(kind, toServer, withSize(p, uint32(len(p)+1+r.IntN(64))))
	case "size-huge":
		b.add(kind, toServer, withSize(pick(), uint32(1<<20+r.IntN(1<<30))))
	case "garbage":
		b.add(kind, toServer, b.bytes(1+r.IntN(40)))
	case "garbage-then-valid":
		b.add(kind, toServer, Concat(b.bytes(1+r.IntN(20)), pick()))
	case "fuzzed":
		b.add(kind, true, b.mutate(req))
		b.add(kind, false, b.mutate(resp))
	}
}
