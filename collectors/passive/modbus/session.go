package modbus

import (
	"net/netip"
	"time"

	"github.com/edgeward/edgeward/collectors/passive/internal/bounded"
)

// Session follows one Modbus/TCP connection: it cuts the two byte streams
// into ADUs, matches responses to requests by transaction id and feeds the
// Analyzer's tables and detections. Create it with Analyzer.NewSession; it is
// not safe for concurrent use and belongs to the Analyzer's goroutine.
type Session struct {
	a              *Analyzer
	client, server netip.AddrPort
	clientIP       netip.Addr
	dirs           [2]stream // 0: to the server, 1: to the client
	// pending is allocated on the first request with 4 entries and grows
	// up to MaxPendingPerSession.
	pending       []pending
	flow          *bounded.Node[flowKey, flowState]
	dev           *bounded.Node[netip.AddrPort, deviceState]
	cli           *bounded.Node[netip.Addr, clientState]
	serverCounted bool
	closed        bool
	// tls: a segment that is not Modbus looked like a TLS record; tshark's
	// TLS heuristic then takes the connection: nothing after is Modbus.
	tls bool
	seq uint64 // request sequence for the pending table
	hi  int    // pending[:hi] holds every used entry
	adu ADU
}

// pending is a request waiting for its response, with what the
// accounting and detections of its outcome need.
type pending struct {
	tid  uint16
	unit uint8
	fc   uint8
	used bool
	nacc uint8
	// sub is the FC 8 sub-function, the FC 90 UMAS code or the FC 43 MEI
	// type; noSub when the request has none.
	sub uint16
	seq uint64
	at  int64 // capture time of the request, Unix nanoseconds
	acc [2]Access
}

// time returns the capture time of the request.
func (p *pending) time() time.Time { return time.Unix(0, p.at) }

// noSub is pending.sub of a request without a sub-function.
const noSub = 0xFFFF

// stream is the ADU framing state of one direction. It follows tshark's
// Modbus/TCP dissection (see the package documentation): a Feed that starts
// on an ADU boundary must pass the MBAP heuristic, the ADUs after it in the
// same chain are cut by their length field, and an ADU that does not fit is
// completed from the next Feeds.
type stream struct {
	// buf holds the partial ADU: taken from the Analyzer when one is held
	// (n > 0 or big), given back when it is complete, so an idle session
	// holds none.
	buf *[MaxADULength]byte
	n   int // bytes of a partial ADU in buf
	// big: the partial ADU is longer than MaxADULength; buf holds its first
	// (up to bigKeep) bytes and skip counts the bytes still to discard.
	big  bool
	skip int
	// lead: no ADU yet since the session began or since the last Gap;
	// leadGarbage: bytes were skipped meanwhile.
	lead, leadGarbage bool
}

// NewSession starts following one TCP connection from client to server (the
// Modbus port). The first bytes of each direction need not start an ADU
// (mid-stream pick-up): see "Segments that do not start an ADU" in the
// package documentation.
func (a *Analyzer) NewSession(client, server netip.AddrPort) *Session {
	s := &Session{
		a: a, client: client, clientIP: client.Addr().Unmap(),
		server: netip.AddrPortFrom(server.Addr().Unmap(), server.Port()),
	}
	s.dirs[0].lead, s.dirs[1].lead = true, true
	return s
}

// Client returns the client endpoint given to NewSession.
func (s *Session) Client() netip.AddrPort { return s.client }

// Server returns the server endpoint given to NewSession.
func (s *Session) Server() netip.AddrPort { return s.server }

func dirIndex(toServer bool) int {
	if toServer {
		return 0
	}
	return 1
}

// declared returns the ADU length an MBAP header declares, whatever its
// protocol id (b holds at least 6 bytes).
func declared(b []byte) int { return 6 + (int(b[4])<<8 | int(b[5])) }

// heuristic is tshark's test of a Feed that starts on a boundary: 8 bytes,
// protocol id 0, length at least 2. Like tshark it accepts any longer
// length; an ADU longer than MaxADULength is skipped, not buffered.
func heuristic(b []byte) bool {
	return len(b) >= HeaderLength+1 && b[2] == 0 && b[3] == 0 && (b[4] != 0 || b[5] >= 2)
}

// Feed hands the session the next reassembled, in-order bytes of one
// direction, normally one TCP segment's payload. payload may hold any split
// of ADUs: several, one split over calls, or garbage. At most one partial
// ADU is kept between calls; payload itself is not retained. Feed after
// Close is ignored.
func (s *Session) Feed(toServer bool, payload []byte, ts time.Time) {
	if s.closed || len(payload) == 0 {
		return
	}
	f := s.flowNode(ts)
	if toServer {
		f.Val.bytesToServer += uint64(len(payload))
	} else {
		f.Val.bytesToClient += uint64(len(payload))
	}
	st := &s.dirs[dirIndex(toServer)]
	if s.tls {
		s.garbage(st, len(payload), ts) // not Modbus, still counted malformed
		return
	}
	p, chained := s.resume(toServer, st, payload, ts)
	if len(p) == 0 {
		return
	}
	if !chained && !heuristic(p) {
		// like tshark, the rest of the Feed is not Modbus: no search for
		// an ADU boundary inside it
		s.garbage(st, len(p), ts)
		if len(p) == len(payload) && looksLikeTLS(p) {
			s.tls = true
		}
		return
	}
	s.chain(toServer, st, p, chained, ts)
}

// resume completes the partial ADU held from earlier Feeds with the front of
// p and returns the rest of p; chained reports that the rest continues the
// chain (cut by length fields, no heuristic). It follows tshark's
// reassembly: an ADU completed from several segments is judged by the
// heuristic as a whole (a partial ADU that began inside a chain was never
// judged), and when fewer than 6 bytes were held (no length yet) tshark
// joins them with the whole next segment and dissects that as one chain.
func (s *Session) resume(toServer bool, st *stream, p []byte, ts time.Time) (rest []byte, chained bool) {
	if st.big {
		if st.n < bigKeep {
			k := copy(st.buf[st.n:bigKeep], p)
			st.n += k
			st.skip -= k
			p = p[k:]
		}
		k := min(st.skip, len(p))
		st.skip -= k
		p = p[k:]
		if st.skip == 0 {
			st.big, st.n = false, 0
			if heuristic(st.buf[:bigKeep]) {
				s.handleOversized(toServer, st.buf[:bigKeep], ts)
			} else {
				s.garbage(st, declared(st.buf[:6]), ts)
			}
			s.release(st)
		}
		return p, false
	}
	if st.n == 0 {
		return p, false
	}
	oneMore := st.n < 6
	if oneMore {
		k := copy(st.buf[st.n:HeaderLength+1], p)
		if st.n+k < HeaderLength+1 || !heuristic(st.buf[:st.n+k]) {
			// the joined bytes are not Modbus: all of them are dropped
			s.garbage(st, st.n+len(p), ts)
			st.n = 0
			s.release(st)
			return nil, false
		}
		st.n += k
		p = p[k:]
	}
	l := declared(st.buf[:6])
	if l > MaxADULength {
		st.big = true
		st.skip = l - st.n
		return s.resume(toServer, st, p, ts)
	}
	k := copy(st.buf[st.n:l], p)
	st.n += k
	p = p[k:]
	if st.n < l {
		return p, false
	}
	st.n = 0
	b := st.buf[:l]
	if oneMore || heuristic(b) {
		s.frame(toServer, st, b, ts)
	} else {
		s.garbage(st, l, ts)
	}
	s.release(st)
	// after an ADU reassembled from a held header, tshark hands the rest of
	// the segment to the heuristic again
	return p, oneMore
}

// hold gives st a buffer for a partial ADU, from the Analyzer's free list
// when one is there.
func (s *Session) hold(st *stream) {
	if st.buf != nil {
		return
	}
	free := &s.a.aduFree
	if k := len(*free); k > 0 {
		st.buf = (*free)[k-1]
		(*free)[k-1] = nil
		*free = (*free)[:k-1]
		return
	}
	st.buf = new([MaxADULength]byte)
}

// release gives st's partial-ADU buffer back to the Analyzer.
func (s *Session) release(st *stream) {
	if st.buf == nil {
		return
	}
	if len(s.a.aduFree) < maxFreeADUBufs {
		s.a.aduFree = append(s.a.aduFree, st.buf)
	}
	st.buf = nil
}

// chain cuts ADUs from p (whose start passed the heuristic) by their length
// fields and keeps a trailing partial ADU. Like tshark, once an ADU of a
// chain that starts a segment is malformed (its dissection throws) the
// segment is no longer reassembled: a trailing partial ADU of 8 bytes or
// more is counted as it is, a shorter one dropped. reassembled: p continues
// a chain joined from held bytes, where tshark goes on reassembling.
func (s *Session) chain(toServer bool, st *stream, p []byte, reassembled bool, ts time.Time) {
	bad := false
	for len(p) > 0 {
		partial := len(p) < 6 || declared(p) > len(p)
		if partial && bad {
			if len(p) >= HeaderLength+1 {
				s.frame(toServer, st, p, ts)
			} else {
				s.garbage(st, len(p), ts)
			}
			return
		}
		if len(p) < 6 {
			s.hold(st)
			st.n = copy(st.buf[:], p)
			return
		}
		l := declared(p)
		if l > len(p) {
			s.hold(st)
			if l > MaxADULength {
				st.big = true
				st.n = copy(st.buf[:bigKeep], p)
				st.skip = l - len(p)
				return
			}
			st.n = copy(st.buf[:], p)
			return
		}
		s.frame(toServer, st, p[:l], ts)
		bad = bad || (!reassembled && throws(toServer, p[:l]))
		p = p[l:]
	}
}

// looksLikeTLS is tshark 4.0's TLS heuristic as observed on a segment the
// Modbus dissector rejects: a handshake or application data record header
// (content type 22 or 23) of TLS 1.0 to 1.2 (version 3.1-3.3) in at least
// 5 bytes. (SSL 3.0 headers are taken only in some cases, not modelled.)
func looksLikeTLS(b []byte) bool {
	return len(b) >= 5 && (b[0] == 22 || b[0] == 23) && b[1] == 3 && b[2] >= 1 && b[2] <= 3
}

// headerThrows reports whether tshark's Modbus/TCP dissector throws before
// it shows the layer: it reads the exception code of an exception
// response, the MEI type of FC 43 and the sub-function of FC 8 first.
func headerThrows(b []byte) bool {
	fc, n := b[7], len(b)-HeaderLength-1
	return (fc&0x80 != 0 || fc == 43) && n < 1 || fc == 8 && n < 2
}

// throws reports whether tshark's dissection of the complete ADU b throws
// in its Modbus PDU dissector: a fixed field missing, or a truncated
// device identification object list. A byte count running past the end
// does not throw (tshark shows what is there), unlike for ADU.CheckPDU.
func throws(toServer bool, b []byte) bool {
	if len(b) < HeaderLength+1 || headerThrows(b) {
		// tshark shows nothing for a length of 0 or 1, and its
		// Modbus/TCP layer throws before the PDU dissector runs: it goes
		// on reassembling either way
		return false
	}
	fc, d := b[7], b[8:]
	if fc&0x80 != 0 {
		return false
	}
	if !toServer && fc == 43 && d[0] == MEIReadDeviceIdentity {
		// the object list is read field by field
		a := ADU{Function: fc, Data: d}
		return a.CheckPDU(false) != nil
	}
	need := 0
	if toServer {
		switch fc {
		case 1, 2, 3, 4, 5, 6:
			need = 4
		case 8, 24:
			need = 2
		case 15, 16:
			need = 5
		case 20, 21, 43:
			need = 1
		case 22:
			need = 6
		case 23:
			need = 9
		}
		if fc == 43 && len(d) >= 1 && d[0] == MEIReadDeviceIdentity {
			need = 3
		}
	} else {
		switch fc {
		case 1, 2, 3, 4, 7, 12, 17, 20, 21, 23, 43:
			need = 1
		case 5, 6, 11, 15, 16, 24:
			need = 4
		case 8:
			need = 2
		case 22:
			need = 6
		}
	}
	return len(d) < need
}

// garbage accounts n skipped bytes. Before the first ADU of a direction a
// run shorter than an ADU is the tail of an ADU cut by a mid-stream start
// and is not malformed.
func (s *Session) garbage(st *stream, n int, ts time.Time) {
	if n == 0 {
		return
	}
	if st.lead && n < SpecMaxADULength {
		st.leadGarbage = true // counted at Close if no ADU ever follows
		return
	}
	s.malformed(ts)
}

// frame accounts one complete ADU cut from the stream (any protocol id and
// length, as tshark does inside a chain).
func (s *Session) frame(toServer bool, st *stream, b []byte, ts time.Time) {
	if len(b) < HeaderLength+1 || headerThrows(b) {
		// length 0 or 1: no unit id or function code; or tshark throws
		// before it shows the Modbus/TCP layer
		s.malformed(ts)
		return
	}
	st.lead, st.leadGarbage = false, false
	a := &s.adu
	a.TransactionID = uint16(b[0])<<8 | uint16(b[1])
	a.ProtocolID = uint16(b[2])<<8 | uint16(b[3])
	a.Length = uint16(len(b) - 6)
	a.UnitID, a.Function = b[6], b[7]
	a.Data = b[8:len(b):len(b)]
	s.handle(toServer, a, a.ProtocolID != 0, ts)
}

// bigKeep is how much of an ADU longer than MaxADULength is kept: the
// header, function code and exception code.
const bigKeep = HeaderLength + 2

// handleOversized accounts an ADU longer than MaxADULength, of which only
// the first bigKeep bytes were kept.
func (s *Session) handleOversized(toServer bool, hdr []byte, ts time.Time) {
	st := &s.dirs[dirIndex(toServer)]
	st.lead, st.leadGarbage = false, false
	a := &s.adu
	a.TransactionID = uint16(hdr[0])<<8 | uint16(hdr[1])
	a.ProtocolID = uint16(hdr[2])<<8 | uint16(hdr[3])
	a.Length = uint16(declared(hdr) - 6)
	a.UnitID, a.Function = hdr[6], hdr[7]
	a.Data = hdr[HeaderLength+1 : bigKeep : bigKeep]
	s.handle(toServer, a, true, ts)
}

// Gap tells the session that bytes were lost in one direction: the partial
// ADU held is dropped and the next Feed is judged as the start of a stream
// (mid-stream pick-up).
func (s *Session) Gap(toServer bool) {
	st := &s.dirs[dirIndex(toServer)]
	st.n, st.skip = 0, 0
	st.big = false
	s.release(st)
	st.lead, st.leadGarbage = true, false
}

// Close ends the session: requests still pending count as unanswered, and a
// partial ADU left in either direction counts as one malformed frame.
// Further calls are ignored.
func (s *Session) Close(ts time.Time) {
	if s.closed {
		return
	}
	s.closed = true
	for i := range s.dirs {
		st := &s.dirs[i]
		switch {
		case st.lead && st.leadGarbage:
			s.malformed(ts) // never an ADU: not Modbus
		case st.n > 0 || st.big:
			s.malformed(ts) // a truncated ADU
		}
		st.n, st.skip, st.big = 0, 0, false
		s.release(st)
	}
	for i := 0; i < s.hi; i++ {
		if p := &s.pending[i]; p.used {
			p.used = false
			s.resolve(p, resUnanswered, 0, ts)
		}
	}
	s.hi = 0
}

// malformed counts one malformed frame or garbage run on this session.
func (s *Session) malformed(ts time.Time) {
	s.a.stats.malformed++
	s.flowNode(ts).Val.malformed++
	c := s.cliNode(ts)
	s.a.windowFor(&c.Val, ts)
	c.Val.win.malformed++
	s.a.checkMalformed(s, &c.Val, ts)
}

func (s *Session) flowNode(ts time.Time) *bounded.Node[flowKey, flowState] {
	if n := s.flow; n != nil && !n.Gone {
		s.a.flows.Touch(n)
		return n
	}
	n, added := s.a.flows.GetOrAdd(flowKey{client: s.clientIP, server: s.server})
	if added {
		n.Val.first = ts
	}
	s.flow = n
	return n
}

func (s *Session) devNode(ts time.Time) *bounded.Node[netip.AddrPort, deviceState] {
	if n := s.dev; n != nil && !n.Gone {
		s.a.devices.Touch(n)
		return n
	}
	n, added := s.a.devices.GetOrAdd(s.server)
	if added {
		n.Val.first = ts
	}
	s.dev = n
	return n
}

func (s *Session) cliNode(ts time.Time) *bounded.Node[netip.Addr, clientState] {
	if n := s.cli; n != nil && !n.Gone {
		s.a.clients.Touch(n)
		return n
	}
	n, added := s.a.clients.GetOrAdd(s.clientIP)
	if added {
		n.Val.first = ts
	}
	c := &n.Val
	found := false
	for _, sv := range c.servers {
		if sv == s.server {
			found = true
			break
		}
	}
	if !found && len(c.servers) < maxServersPerClient {
		c.servers = append(c.servers, s.server)
	}
	s.cli = n
	return n
}

// handle accounts one ADU. bad marks an ADU whose header is not sane
// (protocol id not 0, or oversized) but that tshark still counts.
func (s *Session) handle(toServer bool, a *ADU, bad bool, ts time.Time) {
	an := s.a
	c := &an.stats
	c.adus++
	c.units.add(a.UnitID)
	if !s.serverCounted {
		an.addServer(s.server)
		s.serverCounted = true
	}
	fc := a.Function & 0x7F
	fn := s.flowNode(ts)
	f := &fn.Val
	f.last = ts
	dn := s.devNode(ts)
	d := &dn.Val
	d.last = ts
	cn := s.cliNode(ts)
	cl := &cn.Val
	cl.last = ts
	fcc := f.fc(fc)
	pduErr := a.CheckPDU(toServer)

	if toServer {
		c.requests++
		c.fcReq[fc]++
		f.requests++
		fcc.requests++
		d.requests++
		cl.requests++
		if code, ok := a.Exception(); ok {
			c.exc[code]++ // tshark counts an exception code in any direction
		}
		if bad {
			s.malformed(ts)
			return // not Modbus: counted like tshark, kept out of detections
		}
		if an.start.IsZero() {
			an.start = ts
			an.learnedGen++
		}
		if Classify(fc) == ClassWrite {
			cl.wrote = true
		}
		s.addPending(a, pduErr == nil, ts)
	} else {
		c.responses++
		c.fcResp[fc]++
		f.responses++
		fcc.responses++
		d.responses++
		cl.responses++
		code, isExc := a.Exception()
		if isExc {
			c.exc[code]++
			f.exceptions++
			fcc.exceptions++
			d.exceptions++
		}
		if bad {
			s.malformed(ts)
			return
		}
		if p := s.matchPending(a); p != nil {
			r := resExecuted
			if isExc {
				r = resRefused
			}
			s.resolve(p, r, code, ts)
		} else {
			f.unmatched++
		}
		an.windowFor(cl, ts)
		if !isExc || code != 1 {
			// "illegal function" answers a capability probe; the
			// function code scan judges those
			cl.win.responses++
		}
		if isExc && code != 1 {
			cl.win.exceptions++
		} else if a.Function&0x80 == 0 {
			d.served.add(fc)
			if pduErr == nil && a.Function == 43 && len(a.Data) > 0 && a.Data[0] == MEIReadDeviceIdentity {
				s.deviceID(a, d)
			}
		}
		an.checkExceptionRate(s, a, cl, ts)
	}
	if pduErr != nil {
		s.malformed(ts)
	}
}

// deviceID stores the objects of an FC 43/14 response: at most
// MaxIdentityObjects (unit, object) pairs per server and MaxStatsServers
// objects in all for Stats; objects beyond are counted
// (Analyzer.IdentityObjectsDropped). A known object takes its new value.
func (s *Session) deviceID(a *ADU, d *deviceState) {
	var h DeviceIDHeader
	an := s.a
	key := identKey{server: s.server, unit: a.UnitID}
	_ = a.DeviceID(&h, func(id uint8, v []byte) {
		if old, known := d.ident[a.UnitID][id]; known && sameObjectValue(old, id, v) && an.stats.ident[key][id] == old {
			return // a device answering again with the same objects: nothing to allocate
		}
		str, ok := ObjectValueString(id, v)
		if !ok {
			return
		}
		if _, known := d.ident[a.UnitID][id]; known || d.identN < an.cfg.MaxIdentityObjects {
			d.setIdent(a.UnitID, id, str)
		} else {
			an.identDropped++
		}
		st := &an.stats
		m := st.ident[key]
		if _, known := m[id]; !known && st.identN >= an.cfg.MaxStatsServers {
			an.identDropped++
			return
		}
		if m == nil {
			m = make(map[uint8]string)
			st.ident[key] = m
		}
		if _, known := m[id]; !known {
			st.identN++
		}
		m[id] = str
	})
}

// addPending remembers a request (wellFormed: its PDU is complete, so its
// table ranges count); requests older than Config.ResponseTimeout are
// resolved unanswered first, and when the table is full the oldest is.
// Only pending[:s.hi] is scanned.
func (s *Session) addPending(a *ADU, wellFormed bool, ts time.Time) {
	s.expirePending(ts)
	s.seq++
	slot, oldest := -1, -1
	for i := 0; i < s.hi; i++ {
		p := &s.pending[i]
		if !p.used {
			if slot < 0 {
				slot = i
			}
			continue
		}
		if p.tid == a.TransactionID {
			// a retransmitted or reused id replaces the old request
			slot = i
			p.used = false
			s.resolve(p, resUnanswered, 0, ts)
			break
		}
		if oldest < 0 || p.seq < s.pending[oldest].seq {
			oldest = i
		}
	}
	if slot < 0 {
		switch limit := s.a.cfg.MaxPendingPerSession; {
		case s.hi < len(s.pending):
			slot = s.hi
		case len(s.pending) < limit:
			grown := make([]pending, min(max(4, 2*len(s.pending)), limit))
			copy(grown, s.pending)
			s.pending = grown
			slot = s.hi
		default:
			slot = oldest
			s.pending[slot].used = false
			s.resolve(&s.pending[slot], resUnanswered, 0, ts)
		}
	}
	if slot >= s.hi {
		s.hi = slot + 1
	}
	p := &s.pending[slot]
	*p = pending{tid: a.TransactionID, unit: a.UnitID, fc: a.Function & 0x7F, used: true, seq: s.seq, at: ts.UnixNano(), sub: noSub}
	if wellFormed {
		acc, n := a.RequestAccesses()
		p.acc, p.nacc = acc, uint8(n)
	}
	if sub, ok := a.DiagnosticSubFunction(); ok {
		p.sub = sub
	} else if mei, ok := a.MEIType(); ok {
		p.sub = uint16(mei)
	} else if p.fc == 90 && len(a.Data) >= 2 {
		p.sub = uint16(a.Data[1])
	}
}

// matchPending removes the request answered by response a and returns it
// (valid until the next request), or nil.
func (s *Session) matchPending(a *ADU) *pending {
	for i := 0; i < s.hi; i++ {
		p := &s.pending[i]
		if p.used && p.tid == a.TransactionID && p.fc == a.Function&0x7F {
			p.used = false
			for s.hi > 0 && !s.pending[s.hi-1].used {
				s.hi--
			}
			return p
		}
	}
	return nil
}
