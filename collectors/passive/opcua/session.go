package opcua

import (
	"encoding/binary"
	"math"
	"net/netip"
	"time"

	"github.com/edgeward/edgeward/collectors/passive/internal/bounded"
)

// Session follows one OPC UA Binary (opc.tcp) connection: it cuts the two
// byte streams into chunks, reassembles multi-chunk messages, decodes what
// the channel's security allows and feeds the Analyzer's tables and
// detections. Create it with Analyzer.NewSession; it is not safe for
// concurrent use and belongs to the Analyzer's goroutine.
type Session struct {
	a              *Analyzer
	client, server netip.AddrPort
	clientIP       netip.Addr
	dirs           [2]dirState // 0: to the server, 1: to the client
	flow           *bounded.Node[flowKey, flowState]
	serverCounted  bool
	closed         bool

	// policy is the security policy URI of the last OPN (empty: none seen);
	// mode is modeInvalid (no OPN seen), modeNone, modeSecured (policy other
	// than None, bodies not yet judged), modeSign or modeSignAndEncrypt.
	policy string
	mode   uint32
	// chPolicy and chMode are what the session's channel is counted under
	// in its flow's Security list (chCounted: it is counted).
	chPolicy  string
	chMode    uint32
	chCounted bool

	pending []pendingActivate // allocated on the first ActivateSession
	pnext   int

	devs [3]*bounded.Node[devKey, deviceState] // by role: cached device nodes
}

// dev returns the session's server or client application, re-adding it
// after an eviction, with its last-seen time moved to ts.
func (s *Session) dev(role uint8, ts time.Time) *deviceState {
	n := s.devs[role]
	if n == nil || n.Gone {
		addr := s.server
		if role == roleClient {
			addr = netip.AddrPortFrom(s.clientIP, 0)
		}
		var added bool
		n, added = s.a.devices.GetOrAdd(devKey{role: role, addr: addr})
		if added {
			n.Val.first = ts
		}
		s.devs[role] = n
	} else {
		s.a.devices.Touch(n)
	}
	if ts.After(n.Val.last) {
		n.Val.last = ts
	}
	return &n.Val
}

// pendingActivate is an ActivateSessionRequest awaiting its response.
type pendingActivate struct {
	reqID uint32
	token int8 // 0..3 tokenNames, -1 unknown
	used  bool
}

// dirState is the chunk framing state of one direction.
type dirState struct {
	hdr  [HeaderLength]byte
	nh   int // bytes of a partial header in hdr
	in   bool
	h    ChunkHeader
	buf  []byte // the chunk so far (at most keep bytes); nil between chunks
	need int    // bytes of the chunk still to consume
	keep int    // bytes of the chunk to buffer
	// drop: the partial chunk was dropped over the Analyzer's buffer
	// budget; its remaining bytes are skipped up to the next chunk header.
	drop bool

	// synced: a valid chunk header was seen since the start or the last
	// Gap, so invalid bytes are malformed rather than mid-stream lead-in.
	synced bool
	// lost: the framing is lost (after a Gap); bytes are skipped until a
	// Feed starts with a valid chunk header.
	lost bool
	// dead: a chunk declared size 0; like tshark, nothing more of the
	// direction is read.
	dead bool

	// multi-chunk reassembly (MSG C...F with one request id)
	asm       []byte
	asmOn     bool
	asmReq    uint32
	asmChunks int
	asmOver   bool
	// asmDrop: the message was dropped over the buffer budget; its chunks
	// are skipped up to its final chunk. asmAny: its request id is not
	// known yet (the chunk dropped was not read), the next one names it.
	asmDrop, asmAny bool
}

// NewSession starts following one TCP connection from client to server (the
// OPC UA port). Like tshark, the first bytes of each direction are taken
// for a chunk header (see the package documentation on framing).
func (a *Analyzer) NewSession(client, server netip.AddrPort) *Session {
	return &Session{
		a: a, client: client, clientIP: client.Addr().Unmap(),
		server: netip.AddrPortFrom(server.Addr().Unmap(), server.Port()),
	}
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

// flowNode returns the session's flow, re-adding it after an eviction.
func (s *Session) flowNode(ts time.Time) *flowState {
	if s.flow == nil || s.flow.Gone {
		n, added := s.a.flows.GetOrAdd(flowKey{client: s.clientIP, server: s.server})
		if added {
			n.Val.first = ts
		}
		s.flow = n
	} else {
		s.a.flows.Touch(s.flow)
	}
	f := &s.flow.Val
	if ts.After(f.last) {
		f.last = ts
	}
	return f
}

// Feed hands the session the next reassembled, in-order bytes of one
// direction, normally one TCP segment's payload. payload may hold any split
// of chunks: several, one split over calls, or garbage. At most one partial
// chunk (bounded by MaxChunkSize) and one partial multi-chunk message
// (bounded by MaxMessageSize) are kept per direction, all sessions together
// within MaxBufferedBytes; their buffers are given back as soon as the chunk
// or message is complete. payload itself is not retained. Feed after Close
// is ignored.
func (s *Session) Feed(toServer bool, payload []byte, ts time.Time) {
	if s.closed || len(payload) == 0 {
		return
	}
	f := s.flowNode(ts)
	if toServer {
		f.bytesToServer += uint64(len(payload))
	} else {
		f.bytesToClient += uint64(len(payload))
	}
	st := &s.dirs[dirIndex(toServer)]
	p := payload
	if st.dead {
		return
	}
	if st.lost {
		var h ChunkHeader
		if h.DecodeFromBytes(p) != nil {
			return
		}
		st.lost = false
	}
	for len(p) > 0 {
		if st.in {
			k := min(st.need, len(p))
			if room := st.keep - len(st.buf); room > 0 && !st.drop {
				s.buffer(st, p[:min(k, room)])
			}
			st.need -= k
			p = p[k:]
			if st.need == 0 {
				st.in = false
				if st.drop {
					st.drop = false
					if t := st.h.Type(); t != TypeInvalid && (t != TypeMSG || st.h.Size >= minSize[TypeMSG]) {
						s.header(st, ts)
					}
				} else {
					s.pdu(toServer, st, st.buf, int(st.h.Size) > len(st.buf), ts)
				}
				st.buf = s.a.putBuf(st.buf)
			}
			continue
		}
		var hb []byte
		inPlace := st.nh == 0 && len(p) >= HeaderLength
		if inPlace {
			hb = p[:HeaderLength]
		} else {
			k := copy(st.hdr[st.nh:], p)
			st.nh += k
			p = p[k:]
			if st.nh < HeaderLength {
				return
			}
			st.nh = 0
			hb = st.hdr[:]
		}
		// Like tshark (tcp_dissect_pdus with the size at offset 4 and no
		// other check), the size alone cuts the stream.
		size32 := binary.LittleEndian.Uint32(hb[4:8])
		rem := uint32(len(p)) // bytes of the chunk in this Feed
		if !inPlace {
			rem += HeaderLength
		}
		size := int(min(size32, math.MaxInt32))
		switch {
		case size32 > rem && size32-rem > math.MaxInt32:
			// the chunk would end 2 GiB or more ahead in sequence space:
			// tshark's reassembly does not take the next segment for its
			// continuation and drops the rest of this one
			s.malformed(ts)
			return
		case size == 0:
			// tshark waits for one more segment, forever: nothing more
			// of this direction is dissected
			s.malformed(ts)
			st.dead = true
			return
		case size < HeaderLength:
			// a bounds error: tshark drops the rest of the segment
			s.malformed(ts)
			return
		}
		copy(st.h.MessageType[:], hb[:3])
		st.h.ChunkType, st.h.Size = hb[3], uint32(size)
		if inPlace {
			if len(p) >= size { // the whole chunk is here: decode in place
				s.pdu(toServer, st, p[:size], false, ts)
				p = p[size:]
				continue
			}
			p = p[HeaderLength:]
		}
		st.in = true
		st.keep = min(size, s.a.cfg.MaxChunkSize)
		st.need = size - HeaderLength
		st.buf = st.buf[:0]
		s.buffer(st, hb)
	}
}

// pdu handles one complete PDU as tshark cut it (truncated: only its first
// MaxChunkSize bytes are in b). A valid chunk (or one of another type than
// MSG with an unknown chunk type) is decoded; otherwise the chunk is
// counted the way tshark shows it (any chunk type, any size, but a MSG only
// from 24 bytes on) without its body, and a PDU of an unknown message type
// is only malformed.
func (s *Session) pdu(toServer bool, st *dirState, b []byte, truncated bool, ts time.Time) {
	var h ChunkHeader
	err := h.DecodeFromBytes(b)
	t := st.h.Type()
	sizeOK := st.h.Size >= minSize[t] && st.h.Size <= maxSize[t] // (not checked after ErrChunkType)
	if err == nil || (err == ErrChunkType && t != TypeMSG && sizeOK) {
		// tshark reassembles only MSG chunks: it reads the body of any
		// other message whatever its chunk type
		s.chunk(toServer, st, b, truncated, ts)
		return
	}
	if t == TypeInvalid || (t == TypeMSG && st.h.Size < minSize[TypeMSG]) {
		s.malformed(ts)
		return
	}
	s.header(st, ts)
	s.malformed(ts)
}

// buffer appends b to the partial chunk of st within the Analyzer's buffer
// budget. Over budget, the partial chunk and the partial message of the
// direction are dropped and counted; the rest of the chunk is skipped (its
// header is still counted) and decoding resumes at the next chunk.
func (s *Session) buffer(st *dirState, b []byte) {
	buf, ok := s.a.grow(st.buf, len(st.buf)+len(b), st.keep)
	if !ok {
		s.a.stats.overBudget++
		st.drop = true
		st.buf = s.a.putBuf(st.buf)
		st.asmReset(s.a)
		if t := st.h.Type(); (t == TypeMSG || t == TypeCLO) && st.h.ChunkType == 'C' && s.mode != modeSignAndEncrypt {
			// skip the rest of the message too
			st.asmOn, st.asmDrop, st.asmAny = true, true, true
		}
		return
	}
	st.buf = append(buf, b...)
}

// asmReset ends the message reassembly of st and gives its buffer back.
func (st *dirState) asmReset(a *Analyzer) {
	st.asmOn, st.asmChunks, st.asmOver, st.asmDrop, st.asmAny = false, 0, false, false, false
	st.asm = a.putBuf(st.asm)
}

func (s *Session) malformed(ts time.Time) {
	s.a.stats.malformed++
	s.flowNode(ts).malformed++
}

// Gap tells the session that bytes are missing in one direction (a hole in
// the TCP stream): the partial chunk and any partial multi-chunk message
// are dropped, and decoding resumes at the next Feed that starts with a
// valid chunk header.
func (s *Session) Gap(toServer bool) {
	st := &s.dirs[dirIndex(toServer)]
	st.lost, st.synced, st.in, st.nh, st.drop = true, false, false, 0, false
	st.buf = s.a.putBuf(st.buf)
	st.asmReset(s.a)
}

// PickUp tells the session that a direction starts in the middle of the
// stream (the capture began after the connection did): its first bytes
// may be the middle of a chunk, so, as after a Gap, decoding starts at the
// first Feed that starts with a valid chunk header rather than reading a
// chunk size out of the middle of a chunk (which tshark does, losing the
// direction until that size is reached). Call it before the first Feed.
func (s *Session) PickUp(toServer bool) { s.Gap(toServer) }

// Close ends the session at ts: a partial chunk left in either direction is
// counted malformed. Feed after Close is ignored; Close is idempotent.
func (s *Session) Close(ts time.Time) {
	if s.closed {
		return
	}
	for i := range s.dirs {
		st := &s.dirs[i]
		if (st.in || st.nh > 0) && st.synced {
			s.malformed(ts)
		}
		st.buf = s.a.putBuf(st.buf)
		st.asmReset(s.a)
	}
	s.closed = true
	s.pending = nil
}

// header counts the chunk whose header is st.h (Stats, flow, devices) and
// returns its flow.
func (s *Session) header(st *dirState, ts time.Time) *flowState {
	a := s.a
	st.synced = true
	a.stats.messages++
	a.stats.types[st.h.Type()]++
	if !s.serverCounted {
		s.serverCounted = true
		if _, ok := a.stats.servers[s.server]; !ok && len(a.stats.servers) < a.cfg.MaxStatsEntries {
			a.stats.servers[s.server] = struct{}{}
		}
	}
	f := s.flowNode(ts)
	f.messages++
	s.dev(roleServer, ts)
	s.dev(roleClient, ts)
	return f
}

// chunk handles one complete chunk b (truncated: only its first
// MaxChunkSize bytes are in b).
func (s *Session) chunk(toServer bool, st *dirState, b []byte, truncated bool, ts time.Time) {
	a := s.a
	f := s.header(st, ts)
	t := st.h.Type()
	r := newReader(b[HeaderLength:], a.cfg.MaxArrayLen)
	switch t {
	case TypeHEL:
		r.skip(20) // version, receive/send buffer, max message size, max chunk count
		url := r.bytes()
		if r.err != nil {
			s.malformed(ts)
			return
		}
		s.endpointURL(url, ts)
	case TypeERR:
		code := r.u32()
		r.bytes()
		if r.err != nil {
			s.malformed(ts)
		}
		f.errs++
		s.errFlood(code, ts)
	case TypeRHE:
		r.bytes() // server uri
		url := r.bytes()
		if r.err != nil {
			s.malformed(ts)
			return
		}
		s.reverseHello(url, ts)
	case TypeOPN:
		s.open(toServer, st, &r, truncated, ts)
	case TypeMSG, TypeCLO:
		s.secure(toServer, st, b, truncated, ts)
	}
}

// endpointURL records the endpoint URL of a Hello (Stats, flow, server).
func (s *Session) endpointURL(url []byte, ts time.Time) {
	if len(url) == 0 {
		return
	}
	a := s.a
	if len(url) > a.cfg.MaxStringLen {
		url = url[:a.cfg.MaxStringLen]
	}
	if _, ok := a.stats.urls[string(url)]; !ok && len(a.stats.urls) < a.cfg.MaxStatsEntries && a.keepStatsString(len(url)) {
		a.stats.urls[string(url)] = struct{}{}
	}
	f := s.flowNode(ts)
	if f.endpointURL != string(url) {
		f.endpointURL = string(url)
	}
	addBytes(&s.dev(roleServer, ts).urls, url, maxDeviceURLs)
}

// reverseHello records the endpoint URL of a ReverseHello on the server
// (tshark's endpoint_urls come from Hello messages only).
func (s *Session) reverseHello(url []byte, ts time.Time) {
	addBytes(&s.dev(roleServer, ts).urls, clipBytes(url, s.a.cfg.MaxStringLen), maxDeviceURLs)
}

// addBytes appends string(b) to *list unless present or full.
func addBytes(list *[]string, b []byte, max int) {
	if len(b) == 0 || len(*list) >= max {
		return
	}
	for _, x := range *list {
		if x == string(b) {
			return
		}
	}
	*list = append(*list, string(b))
}

// open handles an OPN chunk: the asymmetric security header, then, with
// policy None, the OpenSecureChannel service.
func (s *Session) open(toServer bool, st *dirState, r *reader, truncated bool, ts time.Time) {
	a := s.a
	r.skip(4) // secure channel id
	spu := r.bytes()
	cert := r.bytes()
	r.bytes() // receiver certificate thumbprint
	if r.err != nil {
		if !truncated {
			s.malformed(ts)
		}
		return
	}
	if max := min(a.cfg.MaxStringLen, maxPolicyURILen); len(spu) > max {
		spu = spu[:max]
	}
	if len(spu) > 0 {
		if _, ok := a.stats.policies[string(spu)]; !ok && len(a.stats.policies) < a.cfg.MaxStatsEntries && a.keepStatsString(len(spu)) {
			a.stats.policies[string(spu)] = struct{}{}
		}
	}
	renewal := s.policy == string(spu) && (s.mode == modeSign || s.mode == modeSignAndEncrypt)
	if s.policy != string(spu) {
		s.policy = string(spu)
	}
	f := s.flowNode(ts)
	if f.policy != s.policy {
		f.policy = s.policy
	}
	role := roleServer
	if toServer {
		role = roleClient
	}
	d := s.dev(role, ts)
	addBytes(&d.policies, spu, maxDeviceURLs)
	if len(cert) > 0 {
		s.observeCert(d, role, cert, ts)
	}
	secured := !policyNone(spu)
	switch {
	case secured && renewal:
		// a renewal of the channel: its mode, judged on its MSG chunks,
		// stays
		f.mode = s.mode
	case secured:
		// the rest is encrypted with the asymmetric keys
		s.mode, f.mode = modeSecured, modeSecured
	default:
		s.mode, f.mode = modeNone, modeNone
	}
	s.countChannel(f)
	if st.h.ChunkType != 'F' {
		return
	}
	r.skip(8) // sequence number, request id
	if r.err != nil {
		if !truncated && !secured {
			s.malformed(ts)
		}
		return
	}
	s.service(toServer, 0, r.b[r.off:], truncated, secured, secured, ts)
}

// secure handles a MSG or CLO chunk: symmetric security header, sequence
// header, chunk reassembly and the service when the body is readable.
func (s *Session) secure(toServer bool, st *dirState, b []byte, truncated bool, ts time.Time) {
	reqID := binary.LittleEndian.Uint32(b[20:24])
	body := b[24:]
	if s.mode == modeSecured {
		// Wireshark's test (since 4.2): a signed-only body starts with a
		// known service id
		if ns, id, err := DecodeServiceID(body); err == nil && ns == 0 && knownService(id) {
			s.mode = modeSign
		} else {
			s.mode = modeSignAndEncrypt
		}
		f := s.flowNode(ts)
		f.mode = s.mode
		s.countChannel(f)
	}
	if s.mode == modeSignAndEncrypt {
		s.flowNode(ts).encrypted++
		if st.h.ChunkType == 'F' {
			// count what tshark counts: it reads a type id from the
			// ciphertext too
			s.service(toServer, reqID, body, truncated, true, true, ts)
		}
		return
	}
	// without a None OPN the body may be signed (a trailing signature) or
	// unreadable: decoding failures there are not counted malformed
	soft := s.mode != modeNone
	switch st.h.ChunkType {
	case 'A':
		st.asmReset(s.a)
		return
	case 'C':
		if st.asmAny {
			st.asmReq, st.asmAny = reqID, false
		}
		if st.asmOn && st.asmReq != reqID {
			st.asmReset(s.a)
		}
		if !st.asmOn {
			st.asmOn, st.asmReq = true, reqID
		}
		st.asmAdd(s.a, body, truncated)
		return
	}
	if st.asmAny {
		st.asmReq, st.asmAny = reqID, false
	}
	if st.asmOn && st.asmReq == reqID {
		st.asmAdd(s.a, body, truncated)
		drop := st.asmDrop
		body, truncated = st.asm, st.asmOver
		defer st.asmReset(s.a)
		if drop {
			return // dropped over the buffer budget, counted then
		}
	}
	s.service(toServer, reqID, body, truncated, soft, false, ts)
}

// asmAdd appends one chunk body to the reassembly, within MaxMessageSize and
// MaxChunksPerMessage (beyond, the message is marked truncated) and within
// the Analyzer's buffer budget (beyond, the message is dropped and counted,
// and its further chunks skipped).
func (st *dirState) asmAdd(a *Analyzer, body []byte, truncated bool) {
	if st.asmDrop {
		return
	}
	cfg := &a.cfg
	st.asmChunks++
	if truncated || st.asmChunks > cfg.MaxChunksPerMessage {
		st.asmOver = true
	}
	if st.asmOver && len(st.asm) > 0 {
		return
	}
	room := cfg.MaxMessageSize - len(st.asm)
	if len(body) > room {
		body = body[:max(room, 0)]
		st.asmOver = true
	}
	if len(body) == 0 {
		return
	}
	asm, ok := a.grow(st.asm, len(st.asm)+len(body), cfg.MaxMessageSize)
	if !ok {
		a.stats.overBudget++
		st.asmDrop = true
		st.asm = a.putBuf(st.asm)
		return
	}
	st.asm = append(asm, body...)
}

func knownService(id uint32) bool {
	_, ok := serviceNames[id]
	return ok
}
