package agent

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/gopcua/opcua/id"
	"github.com/gopcua/opcua/ua"
	svmodbus "github.com/simonvetter/modbus"

	"github.com/edgeward/edgeward/agent/internal/config"
	"github.com/edgeward/edgeward/collectors"
	"github.com/edgeward/edgeward/collectors/passive"
	"github.com/edgeward/edgeward/collectors/probe"
)

// byteRecorder is a TCP proxy in front of a server: it records every byte each
// client connection sends and when the connection was accepted.
type byteRecorder struct {
	addr     netip.AddrPort
	mu       sync.Mutex
	upstream string   // "" answers nothing
	sent     [][]byte // per connection, client to server
}

// record starts a recording proxy on host (a loopback address) in front of
// upstream ("" for a listener that records and answers nothing).
func record(t *testing.T, host, upstream string) *byteRecorder {
	t.Helper()
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Fatal(err)
	}
	r := &byteRecorder{addr: netip.MustParseAddrPort(l.Addr().String()), upstream: upstream}
	var wg sync.WaitGroup
	t.Cleanup(func() { l.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			r.mu.Lock()
			i := len(r.sent)
			r.sent = append(r.sent, nil)
			upstream := r.upstream
			r.mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				var up net.Conn
				if upstream != "" {
					if up, err = net.Dial("tcp", upstream); err != nil {
						return
					}
					defer up.Close()
					go io.Copy(c, up)
				}
				buf := make([]byte, 4096)
				for {
					n, err := c.Read(buf)
					if n > 0 {
						r.mu.Lock()
						r.sent[i] = append(r.sent[i], buf[:n]...)
						r.mu.Unlock()
						if up != nil {
							up.Write(buf[:n])
						}
					}
					if err != nil {
						if up != nil {
							up.(*net.TCPConn).CloseWrite()
						}
						return
					}
				}
			}()
		}
	}()
	return r
}

// forward sets the server connections are forwarded to from now on.
func (r *byteRecorder) forward(upstream string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.upstream = upstream
}

func (r *byteRecorder) conns() [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([][]byte, len(r.sent))
	for i, b := range r.sent {
		out[i] = bytes.Clone(b)
	}
	return out
}

// startIdentityDevice runs a Modbus/TCP device on 127.0.0.1 that answers
// FC 43 / MEI 14 with extended conformity: basic, regular and extended
// objects, each category in one part; anything else gets exception 1.
func startIdentityDevice(t *testing.T) string {
	t.Helper()
	objects := map[byte][][2]string{
		1: {{"\x00", "Schneider Electric"}, {"\x01", "BMX P34 2020"}, {"\x02", "v2.7"}},
		2: {{"\x03", "www.se.com"}, {"\x04", "Modicon M340"}, {"\x05", "BMX P34 2020"}},
		3: {{"\x80", "line 3"}},
	}
	return serveModbus(t, func(_ byte, pdu []byte) []byte {
		objs, ok := objects[pdu[min(2, len(pdu)-1)]]
		if !ok || len(pdu) != 4 || pdu[0] != 0x2B || pdu[1] != 0x0E {
			return []byte{pdu[0] | 0x80, 1}
		}
		resp := []byte{0x2B, 0x0E, pdu[2], 0x83, 0, 0, byte(len(objs))}
		for _, o := range objs {
			resp = append(append(resp, o[0][0], byte(len(o[1]))), o[1]...)
		}
		return resp
	})
}

// startSVModbus runs simonvetter's Modbus server (no FC 43 support) and
// returns its address.
func startSVModbus(t *testing.T) string {
	t.Helper()
	for range 5 {
		addr := "127.0.0.1:" + strconv.Itoa(freePort(t))
		srv, err := svmodbus.NewServer(&svmodbus.ServerConfiguration{URL: "tcp://" + addr, Timeout: 30 * time.Second, MaxClients: 4}, svHandler{})
		if err != nil {
			t.Fatal(err)
		}
		if err := srv.Start(); err == nil {
			t.Cleanup(func() { srv.Stop() })
			return addr
		}
	}
	t.Fatal("could not start the Modbus server")
	return ""
}

type svHandler struct{}

func (svHandler) HandleCoils(*svmodbus.CoilsRequest) ([]bool, error) {
	return nil, svmodbus.ErrIllegalFunction
}
func (svHandler) HandleDiscreteInputs(*svmodbus.DiscreteInputsRequest) ([]bool, error) {
	return nil, svmodbus.ErrIllegalFunction
}
func (svHandler) HandleHoldingRegisters(r *svmodbus.HoldingRegistersRequest) ([]uint16, error) {
	return make([]uint16, r.Quantity), nil
}
func (svHandler) HandleInputRegisters(*svmodbus.InputRegistersRequest) ([]uint16, error) {
	return nil, svmodbus.ErrIllegalFunction
}

// fakeServers stands in for the passive collector: the servers it saw, and
// the identities merged.
type fakeServers struct {
	seen   []passive.Server
	mu     sync.Mutex
	merged []passive.ActiveIdentity
}

func (f *fakeServers) Servers() []passive.Server { return f.seen }
func (f *fakeServers) MergeActive(a passive.ActiveIdentity) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.merged = append(f.merged, a)
}

// modbusADUs splits what a client sent to a Modbus server into ADUs.
func modbusADUs(t *testing.T, b []byte) [][]byte {
	t.Helper()
	var out [][]byte
	for len(b) > 0 {
		if len(b) < 7 {
			t.Fatalf("%d trailing bytes % x", len(b), b)
		}
		n := 6 + int(binary.BigEndian.Uint16(b[4:]))
		if binary.BigEndian.Uint16(b[2:]) != 0 || n > len(b) {
			t.Fatalf("not a Modbus/TCP ADU: % x", b)
		}
		out = append(out, b[:n])
		b = b[n:]
	}
	return out
}

// opcuaMessages splits what a client sent to an OPC UA server into
// messages and names each: the message type, and for a MSG the service
// request's type id; it returns the decoded Read requests too.
func opcuaMessages(t *testing.T, b []byte) ([]string, []*ua.ReadRequest) {
	t.Helper()
	var names []string
	var reads []*ua.ReadRequest
	for len(b) > 0 {
		if len(b) < 8 {
			t.Fatalf("%d trailing bytes", len(b))
		}
		typ, size := string(b[:3]), int(binary.LittleEndian.Uint32(b[4:]))
		if b[3] != 'F' || size < 8 || size > len(b) {
			t.Fatalf("not a final OPC UA chunk: % x", b[:8])
		}
		body := b[8:size]
		b = b[size:]
		switch typ {
		case "HEL":
			names = append(names, typ)
		case "OPN":
			// channel id, policy URI, sender certificate, receiver thumbprint
			n := int(binary.LittleEndian.Uint32(body[4:]))
			names = append(names, "OPN "+string(body[8:8+n]))
		case "MSG", "CLO":
			svc := body[16:] // channel, token, sequence number, request id
			if svc[0] != 0x01 || svc[1] != 0 {
				t.Fatalf("%s type id encoding % x", typ, svc[:4])
			}
			tid := binary.LittleEndian.Uint16(svc[2:])
			names = append(names, typ+" "+id.Name(uint32(tid)))
			if tid == id.ActivateSessionRequest_Encoding_DefaultBinary {
				var r ua.ActivateSessionRequest
				if _, err := ua.Decode(svc[4:], &r); err != nil {
					t.Fatalf("decode ActivateSessionRequest: %v", err)
				}
				if tok, ok := r.UserIdentityToken.Value.(*ua.AnonymousIdentityToken); !ok || tok.PolicyID != "anonymous_none" {
					t.Errorf("ActivateSession identity %#v, want the anonymous token of policy anonymous_none", r.UserIdentityToken.Value)
				}
			}
			if tid == id.ReadRequest_Encoding_DefaultBinary {
				var r ua.ReadRequest
				if _, err := ua.Decode(svc[4:], &r); err != nil {
					t.Fatalf("decode ReadRequest: %v", err)
				}
				reads = append(reads, &r)
			}
		default:
			t.Fatalf("message type %q", typ)
		}
	}
	return names, reads
}

// TestActiveIdentification runs the active collector against the
// project's own test servers behind recording proxies and checks every
// byte each one received: only the servers seen (or listed) inside the
// allowlist and ports are contacted, at the configured rate, with read-only
// requests only (FC 43/14 device identification; HEL, OPN None,
// GetEndpoints, CreateSession, ActivateSession, one Read of the BuildInfo
// variables, CloseSession, CLO), and the results reach net.asset.
func TestActiveIdentification(t *testing.T) {
	t.Parallel()
	device := record(t, "127.0.0.1", startIdentityDevice(t)) // seen, unit 5 and the broadcast unit 0
	simon := record(t, "127.0.0.1", startSVModbus(t))        // listed; refuses FC 43
	// gopcua answers GetEndpoints only for its own URLs: it also
	// advertises the proxy's.
	uaSrv := record(t, "127.0.0.1", "")
	uaSrv.forward(trimScheme(startProbeOPCUA(t, int(uaSrv.addr.Port()))))
	outside := record(t, "127.0.0.2", "")   // seen, outside the allowlist
	otherPort := record(t, "127.0.0.1", "") // seen, on a port not allowed
	unseen := record(t, "127.0.0.1", "")    // allowed, never seen nor listed

	servers := &fakeServers{seen: []passive.Server{
		{Protocol: "modbus", Addr: device.addr, UnitIDs: []uint8{0, 5}},
		{Protocol: "opcua", Addr: uaSrv.addr, EndpointURLs: []string{"opc.tcp://plc-name.invalid:4840"}},
		{Protocol: "modbus", Addr: outside.addr, UnitIDs: []uint8{1}},
		{Protocol: "modbus", Addr: otherPort.addr, UnitIDs: []uint8{1}},
	}}
	const perMinute = 600 // 100 ms apart
	s := activeSettings{
		policy: probe.Policy{
			Allow:     []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")},
			Ports:     []uint16{device.addr.Port(), simon.addr.Port(), uaSrv.addr.Port(), outside.addr.Port(), unseen.addr.Port()},
			PerMinute: perMinute, Interval: time.Hour, Timeout: 10 * time.Second,
		},
		targets: []string{"modbus://" + simon.addr.String() + "/9"},
	}
	a, err := newActiveCollector(s, nil, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	a.servers, a.own, a.every = servers, nil, 50*time.Millisecond

	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- a.Run(ctx, collectors.RecordFunc(func(context.Context, collectors.Record) error { return nil }))
	}()
	deadline := time.Now().Add(60 * time.Second)
	for {
		servers.mu.Lock()
		n := len(servers.merged)
		servers.mu.Unlock()
		if n >= 2 && len(simon.conns()) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("merged %d identities, simon saw %d connections", n, len(simon.conns()))
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(3 * a.every) // more rounds: nothing is identified twice within the interval
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run = %v", err)
	}

	// Modbus device: unit 5 only (never the broadcast unit), one request
	// per category, each FC 43 / MEI 14 read device identification.
	conns := device.conns()
	if len(conns) != 1 {
		t.Fatalf("identity device: %d connections, want 1", len(conns))
	}
	var pdus [][]byte
	for _, adu := range modbusADUs(t, conns[0]) {
		if adu[6] != 5 {
			t.Errorf("request to unit %d: % x", adu[6], adu)
		}
		pdus = append(pdus, adu[7:])
	}
	if diff := cmp.Diff([][]byte{{0x2B, 0x0E, 1, 0}, {0x2B, 0x0E, 2, 3}, {0x2B, 0x0E, 3, 0x80}}, pdus); diff != "" {
		t.Errorf("identity device received (-want +got):\n%s", diff)
	}
	// simonvetter: the listed unit 9, one basic request, refused.
	adus := modbusADUs(t, simon.conns()[0])
	if len(adus) != 1 || !bytes.Equal(adus[0][6:], []byte{9, 0x2B, 0x0E, 1, 0}) {
		t.Errorf("simonvetter server received % x, want one FC 43/14 basic request to unit 9", adus)
	}
	// OPC UA: the read-only sequence, policy None, one Read of BuildInfo.
	conns = uaSrv.conns()
	if len(conns) != 1 {
		t.Fatalf("OPC UA server: %d connections, want 1", len(conns))
	}
	names, reads := opcuaMessages(t, conns[0])
	wantNames := []string{
		"HEL", "OPN " + ua.SecurityPolicyURINone, "MSG GetEndpointsRequest_Encoding_DefaultBinary",
		"MSG CreateSessionRequest_Encoding_DefaultBinary", "MSG ActivateSessionRequest_Encoding_DefaultBinary",
		"MSG ReadRequest_Encoding_DefaultBinary", "MSG CloseSessionRequest_Encoding_DefaultBinary",
		"CLO CloseSecureChannelRequest_Encoding_DefaultBinary",
	}
	if diff := cmp.Diff(wantNames, names); diff != "" {
		t.Errorf("OPC UA server received (-want +got):\n%s", diff)
	}
	if len(reads) != 1 {
		t.Fatalf("%d Read requests, want 1; merged %+v", len(reads), servers.merged)
	}
	var read []string
	for _, n := range reads[0].NodesToRead {
		read = append(read, fmt.Sprintf("%s/%d", n.NodeID, n.AttributeID))
	}
	wantRead := []string{"i=2262/13", "i=2263/13", "i=2261/13", "i=2264/13", "i=2265/13", "i=2266/13"}
	if diff := cmp.Diff(wantRead, read); diff != "" {
		t.Errorf("OPC UA read (-want +got):\n%s", diff)
	}
	// Nothing outside the policy, nothing never seen nor listed.
	for name, r := range map[string]*byteRecorder{"outside the allowlist": outside, "on a port not allowed": otherPort, "never seen": unseen} {
		if c := r.conns(); len(c) != 0 {
			t.Errorf("server %s was contacted: % x", name, c)
		}
	}

	// The results: the Modbus identity of unit 5 and the OPC UA server's
	// build info; the refusal merges nothing.
	var times []time.Time
	got := map[string]string{}
	for _, m := range servers.merged {
		times = append(times, m.Time)
		switch {
		case m.Modbus != nil:
			got[m.Addr.String()] = fmt.Sprintf("unit %d %s %s %s %s", m.Modbus.UnitID, m.Modbus.Vendor, m.Modbus.Product, m.Modbus.Revision, m.Modbus.Objects["128"])
		case m.OPCUA != nil && m.OPCUA.BuildInfo != nil:
			got[m.Addr.String()] = m.OPCUA.BuildInfo.ManufacturerName + " " + m.OPCUA.BuildInfo.SoftwareVersion + " " + strconv.Itoa(len(m.OPCUA.Endpoints))
		}
	}
	want := map[string]string{
		device.addr.String(): "unit 5 Schneider Electric BMX P34 2020 v2.7 line 3",
		uaSrv.addr.String():  "Acme Automation V4.5 SP1 2",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("merged (-want +got):\n%s", diff)
	}
	// The rate limit: identifications start a minute / per_minute apart.
	for i := 1; i < len(times); i++ {
		if gap := times[i].Sub(times[i-1]); gap < time.Minute/perMinute {
			t.Errorf("identifications %d and %d started %v apart, want at least %v", i-1, i, gap, time.Minute/perMinute)
		}
	}
}

// TestActiveIdentificationOwnAssets runs the active collector without a
// passive collector: a listed target's identity is emitted as a net.asset
// record of its own, with source "active".
func TestActiveIdentificationOwnAssets(t *testing.T) {
	t.Parallel()
	device := record(t, "127.0.0.1", startIdentityDevice(t))
	target := "modbus://" + device.addr.String() + "/1"
	a, err := newActiveCollector(activeSettings{
		policy:  probe.Policy{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, Ports: []uint16{device.addr.Port()}},
		targets: []string{target},
	}, nil, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	recs := make(chan collectors.Record, 16)
	go a.Run(ctx, collectors.RecordFunc(func(_ context.Context, r collectors.Record) error { recs <- r; return nil }))
	select {
	case r := <-recs:
		as, ok := r.Body.(passive.Asset)
		if r.Kind != passive.KindAsset || !ok || r.Key != "ip:127.0.0.1" || len(as.Identity) != 1 ||
			as.Identity[0].Source != passive.SourceActive || as.Identity[0].Vendor != "Schneider Electric" {
			t.Errorf("record %+v", r)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no net.asset record")
	}
	if _, err := newActiveCollector(activeSettings{
		policy: probe.Policy{Allow: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, Ports: []uint16{502}}, targets: []string{target},
	}, nil, slog.New(slog.DiscardHandler)); err == nil {
		t.Error("a target outside the allowlist was accepted")
	}
}

func trimScheme(u string) string { return u[len("opc.tcp://"):] }

// TestBuildActiveCollector checks the registry: active identification is
// built only when enabled, after the passive collector, whose servers and
// assets it then uses.
func TestBuildActiveCollector(t *testing.T) {
	t.Parallel()
	c := config.Default()
	c.Agent.ID = "t"
	c.Collectors.Host.Enabled, c.Collectors.Baseline.Enabled = false, false
	s := newSettings(c, "h", "v")
	colls, err := buildCollectors(c, s, slog.New(slog.DiscardHandler))
	if err != nil || len(colls) != 0 {
		t.Fatalf("default: %v, %v; want no collector (active identification is off by default)", names(colls), err)
	}
	c.Collectors.Passive.Enabled, c.Collectors.Passive.Files = true, []string{"x.pcap"}
	c.Collectors.Active.Enabled, c.Collectors.Active.Allow = true, []string{"10.0.0.0/24"}
	s = newSettings(c, "h", "v")
	colls, err = buildCollectors(c, s, slog.New(slog.DiscardHandler))
	if err != nil || !cmp.Equal(names(colls), []string{"passive", "active"}) {
		t.Fatalf("collectors %v, %v; want passive, active", names(colls), err)
	}
	a := colls[1].(*activeCollector)
	if a.servers != colls[0].(*passive.Collector) || a.own != nil {
		t.Errorf("the active collector does not use the passive collector's servers")
	}
	if err := a.ident.Allowed("modbus://10.0.0.7/1"); err != nil {
		t.Errorf("allowlist from the config: %v", err)
	}
	if err := a.ident.Allowed("modbus://10.0.1.7/1"); err == nil {
		t.Error("a target outside the configured allowlist is allowed")
	}
}
