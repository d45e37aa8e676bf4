package passive

import (
	"encoding/binary"
	"math"
	"net/netip"
	"strings"
	"time"
	"unsafe"

	"github.com/edgeward/edgeward/collectors/passive/internal/bounded"
	"github.com/edgeward/edgeward/collectors/passive/opcua"
)

// sessionFactory starts the protocol session of a new connection.
type sessionFactory func(client, server netip.AddrPort) streamHandler

// FlowStats counts the connection table's activity.
type FlowStats struct {
	Active   int    `json:"active"`   // connections tracked now (including recently closed ones)
	Created  uint64 `json:"created"`  // connections started
	Closed   uint64 `json:"closed"`   // ended by FIN or RST
	Expired  uint64 `json:"expired"`  // removed after the idle timeout
	Evicted  uint64 `json:"evicted"`  // removed because the table was full, by count or bytes (least recently used first)
	Reopened uint64 `json:"reopened"` // a new SYN reused the 4-tuple of a tracked connection
	// IgnoredRST counts RSTs not at the next expected sequence number, which
	// leave the connection open.
	IgnoredRST uint64 `json:"ignored_rst"`
	// Bytes is the memory the table holds now (connections, their
	// protocol sessions and out-of-order segment lists), within
	// Budget.Conns; BudgetBytes is that bound.
	Bytes       int64 `json:"bytes"`
	BudgetBytes int64 `json:"budget_bytes"`
}

// EngineStats is a snapshot of what an Engine processed. Every frame is
// counted exactly once under Decode.
type EngineStats struct {
	Packets      uint64            `json:"packets"`
	Bytes        uint64            `json:"bytes"`     // wire length of every frame
	Truncated    uint64            `json:"truncated"` // frames shorter than on the wire (snap length)
	Decode       map[string]uint64 `json:"decode"`    // frames by decode outcome (tcp, not_ip, short_ip, ...)
	DecodeErrors uint64            `json:"decode_errors"`
	// OtherTCP counts TCP segments of connections that are not dispatched to
	// a protocol decoder (not on a configured port, no OPC UA chunk header).
	OtherTCP uint64 `json:"other_tcp"`
	// OPCUARecognized counts OPC UA connections recognised on a port outside
	// Ports.OPCUA: by a Hello, or mid-session by a MSG, OPN or CLO header.
	OPCUARecognized uint64 `json:"opcua_recognized"`
	// OPCUADroppedOverBudget counts OPC UA partial chunks and messages
	// dropped undecoded because the analyzer's buffer budget
	// (opcua.Config.MaxBufferedBytes) was reached.
	OPCUADroppedOverBudget uint64 `json:"opcua_dropped_over_budget"`
	// ModbusIdentityObjectsDropped counts Modbus device identification
	// objects not stored because a bound was reached
	// (modbus.Config.MaxIdentityObjects per server, MaxStatsServers).
	ModbusIdentityObjectsDropped uint64 `json:"modbus_identity_objects_dropped"`
	// MACsEvicted counts source MACs forgotten because the MAC table
	// (2×MaxFlows addresses, least recently seen evicted) was full.
	MACsEvicted uint64 `json:"macs_evicted"`
	// EventsSuppressed counts events held back by the per (kind, client)
	// rate limit; EventsDropped counts alerts lost because a bounded queue
	// (the analyzer's alert queue, the rate-limit table) was full.
	EventsSuppressed uint64 `json:"events_suppressed"`
	EventsDropped    uint64 `json:"events_dropped"`
	// LocalLookups counts connections of this host looked up in the socket
	// table (Config.AttributeLocal), LocalAttributed those whose owning
	// process was found, LocalLookupsSkipped those not looked up because
	// 1024 were already waiting.
	LocalLookups        uint64          `json:"local_lookups"`
	LocalAttributed     uint64          `json:"local_attributed"`
	LocalLookupsSkipped uint64          `json:"local_lookups_skipped"`
	Reassembly          ReassemblyStats `json:"reassembly"`
	Flows               FlowStats       `json:"flows"`
	// Tables are the bytes the other bounded tables hold now; Budget the
	// byte budget of each table (Config.MemoryBudget split).
	Tables TableStats `json:"tables"`
	Budget Budget     `json:"budget"`
	// Files is the progress of a Collector's capture files.
	Files   []FileProgress `json:"files,omitempty"`
	Capture SourceStats    `json:"capture"` // kernel/driver drops, filled in by the Collector
}

// maxFreeConns bounds the ended connections kept for reuse.
const maxFreeConns = 256

// core is the protocol-independent part of an Engine: decode, connection
// table and reassembly.
type core struct {
	modbusPorts, opcuaPorts portSet
	maxFlows                int
	idle                    time.Duration
	modbus, opcua           sessionFactory
	asm                     *assembler
	flows                   map[flowKey]*conn
	lru                     lru
	seg                     segment
	decode                  [numResults]uint64
	stats                   EngineStats
	macs                    *bounded.LRU[netip.Addr, [6]byte] // source MAC by IP, first seen kept
	free                    []*conn
	// recent caches connections by a hash of their key (recentSlot): most
	// segments find theirs there, without a lookup in flows.
	recent                *[recentSlots]*conn
	connBudget, connBytes int64 // byte bound and bytes of the connection table
	// onOpen, when set, is told of every connection started (syn: by a
	// segment with SYN set, captured at ts), for local process attribution.
	onOpen func(client, server netip.AddrPort, syn bool, ts time.Time)
}

// portSet is a bitmap of TCP ports.
type portSet [65536 / 64]uint64

func newPortSet(ports []uint16) portSet {
	var s portSet
	for _, p := range ports {
		s[p/64] |= 1 << (p % 64)
	}
	return s
}

func (s *portSet) has(p uint16) bool { return s[p/64]&(1<<(p%64)) != 0 }

// newCore returns a core that tracks at most maxFlows connections (and
// connBudget bytes of them, unbounded until the caller sets it), buffers at
// most maxBuffered out-of-order bytes and remembers 2×maxFlows source MAC
// addresses (until the caller sets macs).
func newCore(modbusPorts, opcuaPorts []uint16, maxFlows int, idle time.Duration, flowBuffer int, maxBuffered int64) *core {
	return &core{
		modbusPorts: newPortSet(modbusPorts), opcuaPorts: newPortSet(opcuaPorts),
		maxFlows: maxFlows, idle: idle, connBudget: math.MaxInt64,
		asm:    newAssembler(flowBuffer, maxBuffered, 0),
		flows:  make(map[flowKey]*conn, min(maxFlows, 4096)),
		recent: new([recentSlots]*conn),
		macs:   bounded.NewLRU[netip.Addr, [6]byte](2 * maxFlows),
	}
}

// measure recounts c's bytes and evicts least recently used connections
// other than c while the table exceeds its byte budget.
func (e *core) measure(c *conn, ts time.Time) {
	e.resize(c)
	for e.connBytes > e.connBudget && e.lru.tail != nil && e.lru.tail != c {
		e.stats.Flows.Evicted++
		e.drop(e.lru.tail, ts)
	}
}

// resize recounts c's bytes.
func (e *core) resize(c *conn) {
	sz := connBytes + int64(cap(c.half[0].ooo)+cap(c.half[1].ooo))*int64(unsafe.Sizeof(oooSegment{}))
	if c.ms != nil {
		sz += int64(c.ms.MemSize())
	}
	e.connBytes += sz - c.size
	c.size = sz
}

// recentSlots is the size of core.recent (64 KiB): several times the
// connections of a busy sensor.
const recentSlots = 1 << recentBits

const recentBits = 13

// recentSlot returns the slot of core.recent for k: a multiplicative hash
// of the ports and the last four bytes of each address.
func recentSlot(k *flowKey) uint32 {
	h := uint64(k.pa)<<16 | uint64(k.pb)
	h ^= uint64(binary.LittleEndian.Uint32(k.a[12:]))<<32 ^ uint64(binary.LittleEndian.Uint32(k.b[12:]))<<17
	return uint32((h * 0x9E3779B97F4A7C15) >> (64 - recentBits))
}

// process decodes one frame and feeds its TCP payload to its connection.
func (e *core) process(p *Packet) {
	e.stats.Packets++
	e.stats.Bytes += uint64(p.Length)
	if p.CaptureLength < p.Length {
		e.stats.Truncated++
	}
	s := &e.seg
	r := decodeFrame(p.LinkType, p.Data, s)
	e.decode[r]++
	if r != resultTCP {
		return
	}
	key, srcIsA := makeKey(s)
	ts := p.Timestamp
	slot := recentSlot(&key)
	c := e.recent[slot]
	if c == nil || c.key != key {
		c = e.flows[key]
	}
	syn := s.flags&(tcpSYN|tcpACK) == tcpSYN
	switch {
	case c == nil:
		if s.flags&tcpRST != 0 || (s.payloadLen == 0 && s.flags&tcpSYN == 0) {
			if e.dispatch(s) == 0 {
				e.stats.OtherTCP++
			}
			return // nothing to reassemble yet: a pure ACK, FIN or RST
		}
		c = e.open(key, srcIsA, s, ts)
		if c == nil {
			return
		}
	case c.closed:
		if !syn || c.half[dirOf(c, srcIsA)].staleSYN(s.seq+1) {
			e.lru.touch(c)
			c.last = ts
			return
		}
		e.stats.Flows.Reopened++
		e.restart(c, srcIsA, s, ts)
	case syn && c.half[dirOf(c, srcIsA)].synced && !c.half[dirOf(c, srcIsA)].staleSYN(s.seq+1):
		// A SYN that does not repeat the start of the stream: the 4-tuple is reused.
		e.stats.Flows.Reopened++
		e.end(c, ts)
		e.restart(c, srcIsA, s, ts)
	}
	e.lru.touch(c)
	e.recent[slot] = c
	c.last = ts
	d := dirOf(c, srcIsA)
	if s.hasMAC {
		if n := c.macs[d]; n != nil && !n.Gone {
			e.macs.Touch(n)
		} else {
			src := c.client.Addr()
			if d == 1 {
				src = c.server.Addr()
			}
			n, added := e.macs.GetOrAdd(src)
			if added {
				n.Val = s.srcMAC
			}
			c.macs[d] = n
		}
	}
	// A RST ends the connection only at the next expected sequence number
	// (RFC 5961 §3.2: stacks ignore others; after a FIN, which takes one
	// sequence number, the one after), so a spoofed or stale RST does not
	// cut a live stream.
	hs := &c.half[d]
	rstOK := !hs.synced || s.seq == hs.next || (c.finSeen[d] && s.seq == hs.next+1)
	e.asm.add(&c.half[d], c.h, d == 0, s, ts)
	e.measure(c, ts)
	switch {
	case s.flags&tcpRST != 0:
		if !rstOK {
			e.stats.Flows.IgnoredRST++
			break
		}
		e.stats.Flows.Closed++
		e.end(c, ts)
	case s.flags&tcpFIN != 0:
		c.finSeen[d] = true
		if c.finSeen[0] && c.finSeen[1] {
			e.stats.Flows.Closed++
			e.end(c, ts)
		}
	}
}

// dirOf returns 0 when a segment whose source is (or is not) endpoint a
// travels to the server, 1 otherwise.
func dirOf(c *conn, srcIsA bool) int {
	if srcIsA == c.clientIsA {
		return 0
	}
	return 1
}

// dispatch decides the protocol of a new connection and whether its source
// is the client. The rules, in order: a connection with exactly one port in
// the Modbus port set goes to Modbus, that port being the server's; with
// both ports in the set, a SYN (without ACK) names the client, a SYN/ACK the
// server, and otherwise the lower port is the server's. The same rules then
// apply to the OPC UA port set. Failing those, a segment whose payload starts
// with a valid OPC UA chunk header (opcua.Recognize: 8 bytes, no
// allocation) makes the connection OPC UA on any port: a Hello names its
// sender the client; a MSG, OPN or CLO chunk (a connection picked up
// mid-session) names the client by its service when the body is readable
// (a ...Request from the client, a ...Response or ServiceFault from the
// server), and otherwise the lower port is the server's.
func (e *core) dispatch(s *segment) (p protocol) {
	if p, _ = e.dispatchClient(s); p != 0 {
		return p
	}
	return 0
}

func (e *core) dispatchClient(s *segment) (protocol, bool) {
	for _, c := range [2]struct {
		set   *portSet
		proto protocol
	}{{&e.modbusPorts, protoModbus}, {&e.opcuaPorts, protoOPCUA}} {
		sp, dp := c.set.has(s.sport), c.set.has(s.dport)
		switch {
		case dp && !sp:
			return c.proto, true
		case sp && !dp:
			return c.proto, false
		case sp && dp:
			switch {
			case s.flags&(tcpSYN|tcpACK) == tcpSYN:
				return c.proto, true
			case s.flags&(tcpSYN|tcpACK) == tcpSYN|tcpACK:
				return c.proto, false
			}
			return c.proto, lowerPortIsDst(s)
		}
	}
	if e.opcua == nil || !opcua.Recognize(s.payload) {
		return 0, false
	}
	if s.payload[0] == 'H' {
		return protoOPCUA, true
	}
	return protoOPCUA, midSessionClient(s)
}

// lowerPortIsDst reports whether the destination port is the lower one
// (equal ports: the lower address is the server).
func lowerPortIsDst(s *segment) bool {
	return s.dport < s.sport || (s.dport == s.sport && !lessAddr(s.src, s.dst))
}

// midSessionClient tells whether the sender of the MSG, OPN or CLO chunk at
// the start of s.payload is the client: by the service type id of a MSG or
// CLO body in clear, else by the lower port.
func midSessionClient(s *segment) bool {
	const bodyOff = opcua.HeaderLength + 16 // channel id, token id, sequence number, request id
	if s.payload[0] != 'O' && len(s.payload) > bodyOff {
		if _, id, err := opcua.DecodeServiceID(s.payload[bodyOff:]); err == nil {
			if name, ok := opcua.ServiceName(id); ok {
				switch {
				case strings.HasSuffix(name, "Request"):
					return true
				case strings.HasSuffix(name, "Response"), name == "ServiceFault":
					return false
				}
			}
		}
	}
	return lowerPortIsDst(s)
}

func lessAddr(a, b [16]byte) bool {
	for i := range 16 {
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return false
}

// open starts tracking a new connection, evicting the least recently used
// one when the table is full. It returns nil when the connection is not
// dispatched to any decoder.
func (e *core) open(key flowKey, srcIsA bool, s *segment, ts time.Time) *conn {
	proto, srcIsClient := e.dispatchClient(s)
	if proto == 0 {
		e.stats.OtherTCP++
		return nil
	}
	f := e.modbus
	if proto == protoOPCUA {
		f = e.opcua
		if !e.opcuaPorts.has(s.sport) && !e.opcuaPorts.has(s.dport) {
			e.stats.OPCUARecognized++
		}
	}
	if f == nil {
		e.stats.OtherTCP++
		return nil
	}
	for len(e.flows) >= e.maxFlows && e.lru.tail != nil {
		e.stats.Flows.Evicted++
		e.drop(e.lru.tail, ts)
	}
	var c *conn
	if k := len(e.free); k > 0 {
		c = e.free[k-1]
		e.free = e.free[:k-1]
	} else {
		c = new(conn)
	}
	*c = conn{key: key, proto: proto}
	e.start(c, srcIsA == srcIsClient, s, f, ts)
	e.flows[key] = c
	e.lru.pushFront(c)
	e.measure(c, ts)
	return c
}

// restart reuses c for a new connection on the same 4-tuple.
func (e *core) restart(c *conn, srcIsA bool, s *segment, ts time.Time) {
	f := e.modbus
	if c.proto == protoOPCUA {
		f = e.opcua
	}
	clientIsA := srcIsA
	if s.flags&(tcpSYN|tcpACK) != tcpSYN {
		clientIsA = c.clientIsA
	}
	e.asm.release(&c.half[0])
	e.asm.release(&c.half[1])
	c.half = [2]halfStream{}
	c.finSeen = [2]bool{}
	c.closed = false
	e.start(c, clientIsA, s, f, ts)
}

func (e *core) start(c *conn, clientIsA bool, s *segment, f sessionFactory, ts time.Time) {
	e.stats.Flows.Created++
	c.clientIsA = clientIsA
	a := netip.AddrPortFrom(addrFrom(c.key.a, s.is4), c.key.pa)
	b := netip.AddrPortFrom(addrFrom(c.key.b, s.is4), c.key.pb)
	if clientIsA {
		c.client, c.server = a, b
	} else {
		c.client, c.server = b, a
	}
	c.first, c.last = ts, ts
	c.macs = [2]*bounded.Node[netip.Addr, [6]byte]{}
	c.h = f(c.client, c.server)
	c.ms, _ = c.h.(memSizer)
	if e.onOpen != nil {
		e.onOpen(c.client, c.server, s.flags&tcpSYN != 0, ts)
	}
}

// end finishes c's session (delivering what is buffered, with gaps) and
// keeps c as a closed entry until it idles out.
func (e *core) end(c *conn, ts time.Time) {
	if c.closed {
		return
	}
	e.asm.flush(&c.half[0], c.h, true)
	e.asm.flush(&c.half[1], c.h, false)
	c.h.Close(ts)
	c.h, c.ms = nil, nil
	c.closed = true
	e.resize(c)
}

// drop ends c and removes it from the table.
func (e *core) drop(c *conn, ts time.Time) {
	e.end(c, ts)
	if slot := recentSlot(&c.key); e.recent[slot] == c {
		e.recent[slot] = nil
	}
	e.lru.remove(c)
	delete(e.flows, c.key)
	e.connBytes -= c.size
	*c = conn{}
	if len(e.free) < maxFreeConns {
		e.free = append(e.free, c)
	}
}

// flush forces gaps for out-of-order data older than the gap timeout and
// removes connections idle for longer than the idle timeout (all of them
// when now is the zero time: end of input).
func (e *core) flush(now time.Time) {
	if e.asm.stats.Buffered > 0 && !now.IsZero() {
		for c := e.lru.head; c != nil; c = c.next {
			if !c.closed {
				e.asm.expire(&c.half[0], c.h, true, now)
				e.asm.expire(&c.half[1], c.h, false, now)
			}
		}
	}
	for c := e.lru.tail; c != nil; c = e.lru.tail {
		if !now.IsZero() && now.Sub(c.last) < e.idle {
			break
		}
		if !c.closed {
			e.stats.Flows.Expired++
		}
		end := now
		if end.IsZero() {
			end = c.last
		}
		e.drop(c, end)
	}
}

// snapshot returns the current counters.
func (e *core) snapshot() EngineStats {
	st := e.stats
	st.Decode = make(map[string]uint64, numResults)
	st.DecodeErrors = 0
	for r, n := range e.decode {
		if n == 0 {
			continue
		}
		st.Decode[resultNames[r]] = n
		if decodeResult(r).isError() {
			st.DecodeErrors += n
		}
	}
	st.Reassembly = e.asm.stats
	st.Flows.Active = len(e.flows)
	st.Flows.Bytes, st.Flows.BudgetBytes = e.connBytes, e.connBudget
	st.MACsEvicted = e.macs.Evicted
	return st
}
