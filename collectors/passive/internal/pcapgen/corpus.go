package pcapgen

// Benign and attack corpora for tuning and measuring the detections: each
// scenario is a capture of a small plant generated from a seed. A site has
// 2-4 Modbus servers (single PLCs, some of which answer any unit id or
// ignore unknown ones, and serial gateways whose absent units answer
// exception 10 or 11, one of them possibly offline), each with its own
// register map and set of supported function codes, and an OPC UA server.
// Every capture starts with CorpusBaseline of normal operation (the
// learning period of the detections) followed by CorpusOperation of normal
// operation, into which an attack capture puts its attack at a random time.
//
// Normal operation: an HMI polling every server and unit (FC 1, 3, 4)
// every 1-3 s and writing a setpoint now and then; a historian reading
// every unit every 5-10 s; an engineering station that, once in the
// baseline (so that it is learned as a writer) and once or twice after,
// runs an upload and download session on one server with the function codes an engineering tool uses (43/14, 17, 20,
// 21, 23, 22, 24, 7, 8 read-only sub-functions, 11, 12, reads and writes),
// some refused because the device lacks them (exception 1) or because a
// read passes the end of a map (exception 2); an OPC UA SCADA client that
// discovers the endpoints on a None channel and then reads over a
// Basic256Sha256 SignAndEncrypt channel renewed every 5 minutes; an MES
// client that signs in with an encrypted user name token on a Sign channel
// and reads every 2-4 s.

import (
	"fmt"
	"math/rand"
	"net"
	"net/netip"
	"slices"
	"sort"
	"time"
)

// Addresses of the corpora: every attack comes from AttackerNet, except a
// FC 90 download, which may come from the EngineeringStation's address.
const (
	AttackerNet        = "10.10.9."
	EngineeringStation = "10.10.2.30"
)

// Corpus timing: the learning period at the start of every capture, and
// the normal operation after it.
const (
	CorpusBaseline  = 5 * time.Minute
	CorpusOperation = 10 * time.Minute
)

// Scenario is one capture of a corpus.
type Scenario struct {
	// Name is "family/variant".
	Name string
	// Family is "benign" or the attack family (unit_sweep, fc_sweep, ...).
	Family string
	// Want is the event kind the attack must raise; empty for benign.
	Want string
	// Gen writes the capture to w.
	Gen func(w *Writer) error
}

// Attack families and the event kind each must raise.
var attackFamilies = []struct{ family, want string }{
	{"unit_sweep", "modbus.scan"},
	{"fc_sweep", "modbus.scan"},
	{"address_sweep", "modbus.scan"},
	{"identification_sweep", "modbus.identification_sweep"},
	{"fc8_restart", "modbus.diagnostic"},
	{"new_master_write", "modbus.write_new_master"},
	{"fc90_download", "modbus.program_function"},
	{"opcua_brute_force", "opcua.brute_force"},
}

// BenignCorpus returns n benign scenarios generated from seed.
func BenignCorpus(seed int64, n int) []Scenario {
	out := make([]Scenario, 0, n)
	for i := range n {
		s := seed*1000 + int64(i)
		out = append(out, Scenario{Name: fmt.Sprintf("benign/%d", i), Family: "benign", Gen: func(w *Writer) error {
			return genSite(w, rand.New(rand.NewSource(s)), "")
		}})
	}
	return out
}

// AttackCorpus returns n scenarios of each attack family generated from
// seed, family by family.
func AttackCorpus(seed int64, n int) []Scenario {
	var out []Scenario
	for fi, f := range attackFamilies {
		for i := range n {
			s := seed*1000 + int64(100*(fi+1)+i)
			family := f.family
			out = append(out, Scenario{Name: fmt.Sprintf("%s/%d", family, i), Family: family, Want: f.want, Gen: func(w *Writer) error {
				return genSite(w, rand.New(rand.NewSource(s)), family)
			}})
		}
	}
	return out
}

// schedEv is one thing to write at a time of the capture.
type schedEv struct {
	at       time.Duration
	seq      int
	c        *Conn
	op       uint8 // opOpen, opData, opClose
	toServer bool
	b        []byte
}

const (
	opOpen uint8 = iota
	opData
	opClose
)

// sched collects the events of all connections and writes them in time
// order.
type sched struct {
	rng   *rand.Rand
	w     *Writer
	evs   []schedEv
	conns []*link
	end   time.Duration
}

// link is one TCP connection of the schedule.
type link struct {
	s      *sched
	c      *Conn
	opened bool
	closed bool
	busy   time.Duration // when the previous exchange ended
	tid    uint16
}

func (s *sched) add(at time.Duration, c *Conn, op uint8, toServer bool, b []byte) {
	s.evs = append(s.evs, schedEv{at: at, seq: len(s.evs), c: c, op: op, toServer: toServer, b: b})
}

// conn returns a new connection from client to server.
func (s *sched) conn(client, server Endpoint) *link {
	l := &link{s: s, c: s.w.Conn(client, server)}
	s.conns = append(s.conns, l)
	return l
}

// send writes req to the server at (or after the previous exchange), and
// resp back 1-20 ms later when not nil. It returns when the exchange ends.
func (l *link) send(at time.Duration, req, resp []byte) time.Duration {
	at = max(at, l.busy)
	if !l.opened {
		l.s.add(at, l.c, opOpen, true, nil)
		l.opened = true
		at += time.Millisecond
	}
	l.s.add(at, l.c, opData, true, req)
	end := at + time.Millisecond
	if resp != nil {
		end = at + time.Duration(1+l.s.rng.Intn(20))*time.Millisecond
		l.s.add(end, l.c, opData, false, resp)
	}
	l.busy = end + time.Millisecond
	return l.busy
}

// close ends the connection at (after its last exchange).
func (l *link) close(at time.Duration) {
	if !l.opened || l.closed {
		return
	}
	l.closed = true
	l.s.add(max(at, l.busy), l.c, opClose, true, nil)
}

// nextTID returns the connection's next transaction id.
func (l *link) nextTID() uint16 { l.tid++; return l.tid }

// flush closes the connections still open and writes every event.
func (s *sched) flush(t0 time.Time) error {
	for _, l := range s.conns {
		l.close(s.end)
	}
	sort.SliceStable(s.evs, func(i, j int) bool { return s.evs[i].at < s.evs[j].at })
	s.w.Step = time.Microsecond
	for _, e := range s.evs {
		if t := t0.Add(e.at); t.After(s.w.Time) {
			s.w.Time = t
		}
		var err error
		switch e.op {
		case opOpen:
			err = e.c.Handshake()
		case opClose:
			err = e.c.Close()
		default:
			err = e.c.Send(e.toServer, e.b)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// device is a simulated Modbus server.
type device struct {
	ep       Endpoint
	units    []uint8 // units present (a gateway's serial devices, or the PLC's own id)
	offline  uint8   // a configured unit that does not answer its gateway (0: none)
	unknown  byte    // unit ids not present: 'x' gateway exception, 's' silent, 'a' answered as the PLC's own
	gwCode   uint8   // the gateway's exception for absent units (10 or 11)
	holding  uint16  // register map sizes
	input    uint16
	coils    uint16
	fcs      map[uint8]bool // supported function codes
	vendor   string
	model    string
	gateway  bool
	readable []uint16 // block starts the HMI and historian poll
}

// hasUnit reports whether unit answers normally.
func (d *device) hasUnit(u uint8) bool {
	return slices.Contains(d.units, u) || (d.unknown == 'a' && u != 0)
}

// answer returns the device's response to request pdu for unit, or nil
// when it stays silent.
func (d *device) answer(tid uint16, unit uint8, pdu []byte) []byte {
	fc := pdu[0]
	exc := func(code uint8) []byte { return Exception(tid, unit, fc, code) }
	switch {
	case unit == 0:
		return nil // broadcast
	case d.offline != 0 && unit == d.offline:
		return exc(11)
	case !d.hasUnit(unit):
		switch d.unknown {
		case 'x':
			return exc(d.gwCode)
		case 's':
			return nil
		}
	}
	if !d.fcs[fc] {
		return exc(1)
	}
	u16 := func(i int) uint16 {
		if len(pdu) < i+2 {
			return 0
		}
		return uint16(pdu[i])<<8 | uint16(pdu[i+1])
	}
	inMap := func(addr, qty, size uint16) bool { return qty > 0 && uint32(addr)+uint32(qty) <= uint32(size) }
	switch fc {
	case 1, 2:
		if !inMap(u16(1), u16(3), d.coils) {
			return exc(2)
		}
		n := (int(u16(3)) + 7) / 8
		return ADU(tid, unit, append([]byte{fc, byte(n)}, make([]byte, n)...)...)
	case 3, 4:
		size := d.holding
		if fc == 4 {
			size = d.input
		}
		if !inMap(u16(1), u16(3), size) {
			return exc(2)
		}
		n := 2 * int(u16(3))
		return ADU(tid, unit, append([]byte{fc, byte(n)}, make([]byte, n)...)...)
	case 5, 6, 22:
		size := d.holding
		if fc == 5 {
			size = d.coils
		}
		if !inMap(u16(1), 1, size) {
			return exc(2)
		}
		return ADU(tid, unit, pdu...)
	case 15, 16:
		size := d.holding
		if fc == 15 {
			size = d.coils
		}
		if !inMap(u16(1), u16(3), size) {
			return exc(2)
		}
		return ADU(tid, unit, pdu[:5]...)
	case 23:
		if !inMap(u16(1), u16(3), d.holding) || !inMap(u16(5), u16(7), d.holding) {
			return exc(2)
		}
		n := 2 * int(u16(3))
		return ADU(tid, unit, append([]byte{fc, byte(n)}, make([]byte, n)...)...)
	case 7:
		return ADU(tid, unit, 7, 0)
	case 8:
		sub := u16(1)
		if sub == 0x000B || sub == 0x000C || sub == 0x000E {
			return ADU(tid, unit, 8, pdu[1], pdu[2], 0, byte(tid))
		}
		return ADU(tid, unit, pdu...)
	case 11:
		return ADU(tid, unit, 11, 0, 0, 0, byte(tid))
	case 12:
		return ADU(tid, unit, 12, 6, 0, 0, 0, byte(tid), 0, byte(tid))
	case 17:
		id := []byte(d.model)
		return ADU(tid, unit, append(append([]byte{17, byte(len(id) + 1)}, id...), 0xFF)...)
	case 20:
		// one sub-request: reference 6, file, record, length
		n := 2 * int(u16(7))
		resp := append([]byte{20, byte(n + 2), byte(n + 1), 6}, make([]byte, n)...)
		return ADU(tid, unit, resp...)
	case 21:
		return ADU(tid, unit, pdu...)
	case 24:
		return ADU(tid, unit, 24, 0, 6, 0, 2, 0, 1, 0, 2)
	case 43:
		if len(pdu) < 2 || pdu[1] != 14 {
			return exc(1)
		}
		objs := [][]byte{[]byte(d.vendor), []byte(d.model), []byte("V" + fmt.Sprint(2+int(tid)%3) + ".1")}
		resp := []byte{43, 14, pdu[2], 0x81, 0, 0, byte(len(objs))}
		for i, o := range objs {
			resp = append(resp, byte(i), byte(len(o)))
			resp = append(resp, o...)
		}
		return ADU(tid, unit, resp...)
	case 90:
		return ADU(tid, unit, 90, 0, 0xFE)
	}
	return ADU(tid, unit, fc, 0)
}

// exchange sends pdu to unit of d on l at and returns when it ended.
func (l *link) exchange(d *device, at time.Duration, unit uint8, pdu ...byte) time.Duration {
	tid := l.nextTID()
	return l.send(at, ADU(tid, unit, pdu...), d.answer(tid, unit, pdu))
}

func be(v uint16) (byte, byte) { return byte(v >> 8), byte(v) }

func readPDU(fc uint8, addr, qty uint16) []byte {
	a, b := be(addr)
	c, d := be(qty)
	return []byte{fc, a, b, c, d}
}

// site is the simulated plant of one scenario.
type site struct {
	rng     *rand.Rand
	s       *sched
	devs    []*device
	hmi     Endpoint
	hist    Endpoint
	eng     Endpoint
	scada   Endpoint
	mes     Endpoint
	ua      Endpoint
	nextMAC byte
}

func (st *site) endpoint(ip string, port uint16) Endpoint {
	st.nextMAC++
	return Endpoint{MAC: net.HardwareAddr{0x02, 0, 0, 0, 0x10, st.nextMAC}, Addr: netip.AddrPortFrom(netip.MustParseAddr(ip), port)}
}

// clientPort returns a random ephemeral port.
func (st *site) clientPort() uint16 { return uint16(40000 + st.rng.Intn(20000)) }

func (st *site) client(ip string) Endpoint { return st.endpoint(ip, st.clientPort()) }

// newDevice draws one Modbus server.
func (st *site) newDevice(i int) *device {
	r := st.rng
	d := &device{
		ep:      st.endpoint(fmt.Sprintf("10.10.1.%d", 10+i), 502),
		holding: uint16(200 + r.Intn(1800)), input: uint16(100 + r.Intn(900)), coils: uint16(64 + r.Intn(448)),
		fcs:    map[uint8]bool{1: true, 2: true, 3: true, 4: true, 5: true, 6: true, 15: true, 16: true},
		vendor: []string{"Schneider Electric", "Siemens", "Inovance", "Delta Electronics", "Mitsubishi Electric"}[r.Intn(5)],
		model:  []string{"M340", "S7-1200", "H5U", "AS300", "FX5U"}[r.Intn(5)],
	}
	for _, fc := range []uint8{7, 8, 11, 12, 17, 20, 21, 22, 23, 24, 43} {
		if r.Float64() < 0.6 {
			d.fcs[fc] = true
		}
	}
	if i == 0 || r.Float64() < 0.3 { // a serial gateway
		d.gateway = true
		d.unknown = 'x'
		d.gwCode = []uint8{10, 11}[r.Intn(2)]
		n := 3 + r.Intn(6)
		for u := 1; u <= n; u++ {
			d.units = append(d.units, uint8(u))
		}
		if r.Float64() < 0.5 {
			d.offline = uint8(1 + r.Intn(n))
			d.units = slices.DeleteFunc(d.units, func(u uint8) bool { return u == d.offline })
		}
	} else {
		d.units = []uint8{[]uint8{1, 255, 1}[r.Intn(3)]}
		d.unknown = []byte{'s', 'a', 'x'}[r.Intn(3)]
		d.gwCode = 11
	}
	for a := uint16(0); a+10 <= d.holding && len(d.readable) < 4; a += uint16(10 + r.Intn(100)) {
		d.readable = append(d.readable, a)
	}
	return d
}

// polledUnits are the units the HMI and historian poll: the configured
// ones, the offline one included.
func (d *device) polledUnits() []uint8 {
	us := slices.Clone(d.units)
	if d.offline != 0 {
		us = append(us, d.offline)
	}
	return us
}

// genSite writes one scenario: the site's normal operation and, unless
// attack is empty, an attack of that family.
func genSite(w *Writer, r *rand.Rand, attack string) error {
	s := &sched{rng: r, w: w, end: CorpusBaseline + CorpusOperation}
	st := &site{rng: r, s: s}
	for i := range 2 + r.Intn(3) {
		st.devs = append(st.devs, st.newDevice(i))
	}
	st.hmi, st.hist, st.eng = st.client("10.10.2.10"), st.client("10.10.2.20"), st.client(EngineeringStation)
	st.scada, st.mes = st.client("10.10.2.40"), st.client("10.10.2.41")
	st.ua = st.endpoint("10.10.1.50", 4840)

	st.hmiPolling()
	st.historian()
	st.engineering(time.Duration(30+r.Intn(120))*time.Second, true)
	for range 1 + r.Intn(2) {
		st.engineering(CorpusBaseline+time.Duration(r.Int63n(int64(CorpusOperation-3*time.Minute))), true)
	}
	st.opcuaSCADA()
	st.opcuaMES()
	if attack != "" {
		at := CorpusBaseline + time.Minute + time.Duration(r.Int63n(int64(CorpusOperation-4*time.Minute)))
		if err := st.attack(attack, at); err != nil {
			return err
		}
	}
	return s.flush(w.Time)
}

// hmiPolling: one connection per server, polling every unit, writing a
// setpoint now and then.
func (st *site) hmiPolling() {
	r := st.rng
	for _, d := range st.devs {
		l := st.s.conn(st.hmi, d.ep)
		period := time.Duration(1000+r.Intn(2000)) * time.Millisecond
		wrote := false
		for t := time.Duration(r.Intn(1000)) * time.Millisecond; t < st.s.end; t += period {
			for _, u := range d.polledUnits() {
				a := d.readable[r.Intn(len(d.readable))]
				l.exchange(d, t, u, readPDU(3, a, 10)...)
				if r.Float64() < 0.3 {
					l.exchange(d, t, u, readPDU(1, 0, min(16, d.coils))...)
				}
				if r.Float64() < 0.2 {
					l.exchange(d, t, u, readPDU(4, 0, min(8, d.input))...)
				}
			}
			if u := d.units[0]; (!wrote && t > time.Minute) || r.Float64() < 0.01 {
				wrote = true
				a, b := be(d.readable[0] + uint16(r.Intn(10)))
				l.exchange(d, t, u, 6, a, b, 0, byte(r.Intn(200)))
			}
		}
	}
}

// historian reads every unit of every server every 5-10 s, on a new
// connection each round.
func (st *site) historian() {
	r := st.rng
	period := time.Duration(5+r.Intn(6)) * time.Second
	for t := time.Duration(r.Intn(3000)) * time.Millisecond; t < st.s.end; t += period {
		for _, d := range st.devs {
			l := st.s.conn(st.endpoint("10.10.2.20", st.clientPort()), d.ep)
			end := t
			for _, u := range d.polledUnits() {
				for _, a := range d.readable {
					end = l.exchange(d, end, u, readPDU(3, a, 10)...)
				}
				end = l.exchange(d, end, u, readPDU(4, 0, min(20, d.input))...)
			}
			l.close(end)
		}
	}
}

// engineering runs an engineering tool session on one server at at: an
// upload (identification, file records, reads, diagnostics, counters) and,
// when download is set, a download of parameters (writes, FC 23, 22, 21).
func (st *site) engineering(at time.Duration, download bool) {
	r := st.rng
	d := st.devs[r.Intn(len(st.devs))]
	l := st.s.conn(st.eng, d.ep)
	t := at
	units := d.units[:min(len(d.units), 1+r.Intn(3))]
	step := func(unit uint8, pdu ...byte) {
		t = l.exchange(d, t+time.Duration(20+r.Intn(300))*time.Millisecond, unit, pdu...)
	}
	for _, u := range units {
		step(u, 43, 14, 1, 0)
		step(u, 43, 14, 2, 0)
		step(u, 17)
		step(u, 7)
		step(u, 8, 0, 0, 0x12, 0x34) // return query data
		step(u, 8, 0, 0x0B, 0, 0)    // bus message count
		step(u, 11)
		step(u, 12)
		for a := uint16(0); a < d.holding; a += 100 {
			step(u, readPDU(3, a, min(100, d.holding-a))...)
		}
		if r.Float64() < 0.5 { // past the end of the map
			step(u, readPDU(3, d.holding-10, 50)...)
		}
		for a := uint16(0); a < d.input; a += 120 {
			step(u, readPDU(4, a, min(120, d.input-a))...)
		}
		step(u, readPDU(1, 0, d.coils)...)
		step(u, readPDU(2, 0, min(64, d.coils))...)
		step(u, 24, 0, 0)
		for rec := range 3 {
			step(u, 20, 7, 6, 0, 1, 0, byte(rec), 0, 10)
		}
		if !download {
			continue
		}
		for a := uint16(0); a+20 <= min(d.holding, 200); a += 20 {
			pdu := []byte{16, 0, byte(a), 0, 20, 40}
			step(u, append(pdu, make([]byte, 40)...)...)
		}
		step(u, 6, 0, 5, 0, 1)
		step(u, 5, 0, 3, 0xFF, 0)
		step(u, append([]byte{15, 0, 0, 0, 16, 2}, 0xAA, 0x55)...)
		step(u, 22, 0, 8, 0xFF, 0x00, 0x00, 0x12)
		step(u, append([]byte{23, 0, 0, 0, 4, 0, 10, 0, 2, 4}, 0, 1, 0, 2)...)
		step(u, append([]byte{21, 11, 6, 0, 1, 0, 0, 0, 2}, 0, 1, 0, 2)...)
	}
	l.close(t + time.Second)
}

// opcuaSCADA: discovery on a None channel, then a SignAndEncrypt channel
// with encrypted reads every second and a renewal every 5 minutes.
func (st *site) opcuaSCADA() {
	r := st.rng
	url := "opc.tcp://10.10.1.50:4840"
	d := st.s.conn(st.scada, st.ua)
	t := time.Duration(r.Intn(5000)) * time.Millisecond
	t = d.send(t, Hello(url), Ack())
	t = d.send(t, Open(PolicyNone, nil, 1, OpenRequest(1)), Open(PolicyNone, nil, 1, OpenResponse()))
	eps := []EndpointSpec{
		{URL: url, Policy: PolicyBasic256Sha256, Mode: 2, Tokens: []uint32{1, 2}},
		{URL: url, Policy: PolicyBasic256Sha256, Mode: 3, Tokens: []uint32{1, 2}},
	}
	t = d.send(t, Msg(2, GetEndpointsRequest(url)), Msg(2, GetEndpointsResponse(eps...)))
	t = d.send(t, CloseChannel(3), nil)
	d.close(t)

	c := st.s.conn(st.scada, st.ua)
	t = c.send(t+100*time.Millisecond, Hello(url), Ack())
	t = c.send(t, Open(PolicyBasic256Sha256, nil, 1, st.cipher(200)), Open(PolicyBasic256Sha256, nil, 1, st.cipher(200)))
	renew := t + 5*time.Minute
	for id := uint32(2); t < st.s.end; id++ {
		if t > renew {
			t = c.send(t, Open(PolicyBasic256Sha256, nil, id, st.cipher(200)), Open(PolicyBasic256Sha256, nil, id, st.cipher(200)))
			renew = t + 5*time.Minute
			continue
		}
		t = c.send(t+time.Second, Msg(id, st.cipher(80+r.Intn(60))), Msg(id, st.cipher(100+r.Intn(200))))
	}
}

// cipher returns n bytes that do not start like a service id (ciphertext).
func (st *site) cipher(n int) []byte {
	b := make([]byte, n)
	st.rng.Read(b)
	b[0] |= 0x80
	return b
}

// opcuaMES: a Sign channel, a session with an encrypted user name token,
// signed reads every 2-4 s.
func (st *site) opcuaMES() {
	r := st.rng
	url := "opc.tcp://10.10.1.50:4840"
	c := st.s.conn(st.mes, st.ua)
	sig := func(b []byte) []byte { return append(b, st.cipher(32)...) }
	t := time.Duration(r.Intn(20000)) * time.Millisecond
	t = c.send(t, Hello(url), Ack())
	t = c.send(t, Open(PolicyBasic256Sha256, nil, 1, st.cipher(200)), Open(PolicyBasic256Sha256, nil, 1, st.cipher(200)))
	t = c.send(t, Msg(2, sig(CreateSessionRequest("urn:mes:client", nil))), nil)
	t = c.send(t, Msg(3, sig(ActivateSessionRequest(TokenUserName, UserToken("mes", string(st.cipher(64)), "http://www.w3.org/2001/04/xmlenc#rsa-oaep")))),
		Msg(3, sig(ActivateSessionResponse(0))))
	period := time.Duration(2000+r.Intn(2000)) * time.Millisecond
	for id := uint32(4); t < st.s.end; id++ {
		t = c.send(t+period, Msg(id, sig(ReadRequest(fmt.Sprintf("Line1.Tag%d", r.Intn(50))))), Msg(id, sig(ReadResponse())))
	}
}

// attack writes one attack of family at at, from an address never seen
// before unless the family says otherwise.
func (st *site) attack(family string, at time.Duration) error {
	r := st.rng
	attacker := st.client(fmt.Sprintf("%s%d", AttackerNet, 10+r.Intn(200)))
	d := st.devs[r.Intn(len(st.devs))]
	gap := func() time.Duration { return time.Duration(5+r.Intn(200)) * time.Millisecond }
	switch family {
	case "unit_sweep":
		l := st.s.conn(attacker, d.ep)
		first, last := 1, 247
		if r.Float64() < 0.5 {
			first, last = 1+r.Intn(20), 30+r.Intn(100)
		}
		fc := []uint8{3, 4, 17}[r.Intn(3)]
		t := at
		for u := first; u <= last; u++ {
			if fc == 17 {
				t = l.exchange(d, t+gap(), uint8(u), 17)
			} else {
				t = l.exchange(d, t+gap(), uint8(u), readPDU(fc, 0, 1)...)
			}
		}
	case "fc_sweep":
		l := st.s.conn(attacker, d.ep)
		u, t := d.units[0], at
		codes := make([]uint8, 0, 127)
		for fc := uint8(1); fc < 128; fc++ {
			if fc != 8 && fc != 90 && (r.Float64() < 0.6 || fc <= 4) {
				codes = append(codes, fc)
			}
		}
		for _, fc := range codes {
			t = l.exchange(d, t+gap(), u, fc, 0, 0, 0, 1)
		}
	case "address_sweep":
		l := st.s.conn(attacker, d.ep)
		u, t := d.units[0], at
		step := uint16([]int{100, 250, 1000}[r.Intn(3)])
		for a := uint32(0); a < 65536; a += uint32(step) {
			t = l.exchange(d, t+gap(), u, readPDU(3, uint16(a), 10)...)
		}
	case "identification_sweep":
		t := at
		for _, d := range st.devs {
			l := st.s.conn(attacker, d.ep)
			for u := range 1 + r.Intn(8) {
				u++
				t = l.exchange(d, t+gap(), uint8(u), 43, 14, 1, 0)
			}
			t = l.exchange(d, t+gap(), 255, 43, 14, 1, 0)
			l.close(t)
		}
	case "fc8_restart":
		l := st.s.conn(attacker, d.ep)
		sub := []uint16{1, 1, 4}[r.Intn(3)]
		a, b := be(sub)
		t := l.exchange(d, at, d.units[0], readPDU(3, 0, 1)...)
		l.exchange(d, t+gap(), d.units[0], 8, a, b, 0, 0)
	case "new_master_write":
		l := st.s.conn(attacker, d.ep)
		u, t := d.units[0], at
		for range 1 + r.Intn(5) {
			t = l.exchange(d, t+gap(), u, readPDU(3, d.readable[0], 10)...)
		}
		a, b := be(d.readable[0])
		switch r.Intn(3) {
		case 0:
			l.exchange(d, t+gap(), u, 6, a, b, 0, 99)
		case 1:
			l.exchange(d, t+gap(), u, 16, a, b, 0, 2, 4, 0, 1, 0, 2)
		default:
			l.exchange(d, t+gap(), u, 5, 0, 1, 0xFF, 0)
		}
	case "fc90_download":
		src := attacker
		if r.Float64() < 0.5 {
			src = st.client(EngineeringStation) // from the engineering station's address
		}
		d.fcs[90] = true
		l := st.s.conn(src, d.ep)
		u, t := d.units[0], at
		t = l.exchange(d, t, u, 90, 0, 0x02)       // READ_ID
		t = l.exchange(d, t+gap(), u, 90, 0, 0x10) // TAKE_PLC_RESERVATION
		t = l.exchange(d, t+gap(), u, 90, 0, 0x41) // STOP_PLC
		t = l.exchange(d, t+gap(), u, 90, 0, 0x30) // INITIALIZE_DOWNLOAD
		for blk := range 3 + r.Intn(20) {
			t = l.exchange(d, t+gap(), u, append([]byte{90, 0, 0x31, 0, byte(blk)}, make([]byte, 100)...)...)
		}
		t = l.exchange(d, t+gap(), u, 90, 0, 0x32) // END_DOWNLOAD
		l.exchange(d, t+gap(), u, 90, 0, 0x40)     // START_PLC
	case "opcua_brute_force":
		url := "opc.tcp://10.10.1.50:4840"
		policy, alg := PolicyNone, ""
		if r.Float64() < 0.5 {
			policy, alg = PolicyBasic256Sha256, "http://www.w3.org/2001/04/xmlenc#rsa-oaep"
		}
		attempts, perConn := 8+r.Intn(40), 1+r.Intn(10)
		pace := time.Duration(200+r.Intn(2000)) * time.Millisecond
		if r.Float64() < 0.25 { // slow guessing: one attempt every 15-20 s
			pace = time.Duration(15+r.Intn(6)) * time.Second
		}
		t := at
		var c *link
		for i := range attempts {
			if i%perConn == 0 {
				if c != nil {
					c.close(t)
				}
				c = st.s.conn(st.endpoint(attacker.Addr.Addr().String(), st.clientPort()), st.ua)
				t = c.send(t, Hello(url), Ack())
				if policy == PolicyNone {
					t = c.send(t, Open(policy, nil, 1, OpenRequest(1)), Open(policy, nil, 1, OpenResponse()))
				} else {
					t = c.send(t, Open(policy, nil, 1, st.cipher(200)), Open(policy, nil, 1, st.cipher(200)))
				}
				t = c.send(t, Msg(2, CreateSessionRequest("urn:tool", nil)), Msg(2, ServiceFault(0)))
			}
			tok := UserToken([]string{"admin", "operator", "engineer"}[r.Intn(3)], fmt.Sprintf("pw%d", r.Intn(100000)), alg)
			status := []uint32{0x801F0000, 0x80210000}[r.Intn(2)]
			resp := ActivateSessionResponse(status)
			if r.Float64() < 0.5 {
				resp = ServiceFault(status)
			}
			t = c.send(t+pace, Msg(uint32(3+i), ActivateSessionRequest(TokenUserName, tok)), Msg(uint32(3+i), resp))
		}
	default:
		return fmt.Errorf("unknown attack family %q", family)
	}
	return nil
}
