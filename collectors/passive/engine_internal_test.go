package passive

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/gopacket/gopacket/layers"

	"github.com/edgeward/edgeward/collectors/passive/internal/pcapgen"
)

// sinks collects one sink per connection.
type sinks struct {
	byConn map[string]*sink
}

func (s *sinks) factory(client, server netip.AddrPort) streamHandler {
	k := client.String() + "->" + server.String()
	out := &sink{}
	s.byConn[k] = out
	return out
}

// runCore replays path through a core whose Modbus sessions are sinks.
func runCore(t *testing.T, path string) (*sinks, *core) {
	t.Helper()
	src, err := OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	ss := &sinks{byConn: map[string]*sink{}}
	e := newCore([]uint16{502}, []uint16{4840}, 100, time.Minute, 0, 0)
	e.modbus, e.opcua = ss.factory, ss.factory
	for {
		p, err := src.ReadPacket(context.Background())
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		e.process(&p)
	}
	e.flush(time.Time{})
	return ss, e
}

var (
	cliMAC = net.HardwareAddr{0x00, 0x80, 0xf4, 1, 2, 3}
	srvMAC = net.HardwareAddr{0x00, 0x0e, 0x8c, 4, 5, 6}
)

func endpoints(v6 bool) (pcapgen.Endpoint, pcapgen.Endpoint) {
	c, s := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
	if v6 {
		c, s = netip.MustParseAddr("fd00::1"), netip.MustParseAddr("fd00::2")
	}
	return pcapgen.Endpoint{MAC: cliMAC, Addr: netip.AddrPortFrom(c, 40000)},
		pcapgen.Endpoint{MAC: srvMAC, Addr: netip.AddrPortFrom(s, 502)}
}

func TestCaptureDecodeAndReassembly(t *testing.T) {
	t.Parallel()
	req, resp := pcapgen.ReadHolding(1, 1, 0, 10)
	tests := []struct {
		name    string
		link    layers.LinkType
		vlans   []uint16
		v6      bool
		snapLen int
		write   func(c *pcapgen.Conn) error
		// want is the client and server streams delivered.
		wantCli, wantSrv []byte
		wantGaps         int
	}{
		{name: "ethernet", link: layers.LinkTypeEthernet, write: func(c *pcapgen.Conn) error {
			return c.Send(true, req)
		}, wantCli: req},
		{name: "vlan", link: layers.LinkTypeEthernet, vlans: []uint16{7}, write: func(c *pcapgen.Conn) error {
			return c.Send(true, req)
		}, wantCli: req},
		{name: "qinq ipv6", link: layers.LinkTypeEthernet, vlans: []uint16{100, 7}, v6: true, write: func(c *pcapgen.Conn) error {
			return c.Send(true, req)
		}, wantCli: req},
		{name: "sll", link: layers.LinkTypeLinuxSLL, write: func(c *pcapgen.Conn) error {
			return c.Send(true, req)
		}, wantCli: req},
		{name: "raw ipv6", link: layers.LinkTypeRaw, v6: true, write: func(c *pcapgen.Conn) error {
			return c.Send(true, req)
		}, wantCli: req},
		{name: "split and out of order", link: layers.LinkTypeEthernet, write: func(c *pcapgen.Conn) error {
			s := c.Split(true, req, 3, 8)
			return c.Write(s[0], s[2], s[1], s[1])
		}, wantCli: req},
		{name: "truncated by snap length", link: layers.LinkTypeEthernet, snapLen: 60, write: func(c *pcapgen.Conn) error {
			return c.Send(false, resp)
		}, wantSrv: resp[:60-54], wantGaps: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "c.pcap")
			f, err := os.Create(path)
			if err != nil {
				t.Fatal(err)
			}
			w, err := pcapgen.NewWriter(f, tc.link, tc.snapLen)
			if err != nil {
				t.Fatal(err)
			}
			w.VLANs = tc.vlans
			cli, srv := endpoints(tc.v6)
			c := w.Conn(cli, srv)
			if err := c.Handshake(); err != nil {
				t.Fatal(err)
			}
			if err := tc.write(c); err != nil {
				t.Fatal(err)
			}
			if err := c.Close(); err != nil {
				t.Fatal(err)
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
			ss, e := runCore(t, path)
			key := cli.Addr.String() + "->" + srv.Addr.String()
			got := ss.byConn[key]
			if got == nil {
				t.Fatalf("no connection %s; have %v; stats %+v", key, ss.byConn, e.snapshot())
			}
			if diff := cmp.Diff(string(tc.wantCli), string(got.data[0])); diff != "" {
				t.Errorf("client stream (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(string(tc.wantSrv), string(got.data[1])); diff != "" {
				t.Errorf("server stream (-want +got):\n%s", diff)
			}
			if got.gaps[0]+got.gaps[1] != tc.wantGaps || got.closed != 1 {
				t.Errorf("gaps %v closed %d, want %d gaps, closed once", got.gaps, got.closed, tc.wantGaps)
			}
			if st := e.snapshot(); st.DecodeErrors != 0 {
				t.Errorf("decode errors: %v", st.Decode)
			}
		})
	}
}

// genFile writes a capture built by gen and returns its path.
func genFile(t *testing.T, gen func(w *pcapgen.Writer) error) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "g.pcap")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w, err := pcapgen.NewWriter(f, layers.LinkTypeEthernet, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := gen(w); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func runCoreWith(t *testing.T, path string, e *core) *sinks {
	t.Helper()
	src, err := OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	ss := &sinks{byConn: map[string]*sink{}}
	e.modbus, e.opcua = ss.factory, ss.factory
	for {
		p, err := src.ReadPacket(context.Background())
		if err != nil {
			break
		}
		e.process(&p)
	}
	return ss
}

func ap(s string) pcapgen.Endpoint {
	return pcapgen.Endpoint{MAC: cliMAC, Addr: netip.MustParseAddrPort(s)}
}

func TestFlowTableBounds(t *testing.T) {
	t.Parallel()
	path := genFile(t, func(w *pcapgen.Writer) error {
		for i := range 10 {
			c := w.Conn(ap(netip.AddrPortFrom(netip.MustParseAddr("10.0.0.1"), uint16(30000+i)).String()), ap("10.0.0.2:502"))
			if err := errors.Join(c.Handshake(), c.Send(true, []byte("abc"))); err != nil {
				return err
			}
		}
		return nil
	})
	e := newCore([]uint16{502}, nil, 3, time.Minute, 0, 0)
	ss := runCoreWith(t, path, e)
	st := e.snapshot()
	if st.Flows.Active > 3 || st.Flows.Evicted != 7 || st.Flows.Created != 10 {
		t.Errorf("flows = %+v, want at most 3 active, 7 evicted, 10 created", st.Flows)
	}
	closed := 0
	for _, s := range ss.byConn {
		closed += s.closed
		if string(s.data[0]) != "abc" {
			t.Errorf("stream = %q", s.data[0])
		}
	}
	if closed != 7 {
		t.Errorf("%d sessions closed by eviction, want 7", closed)
	}
	// Idle expiry ends the rest.
	e.flush(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	if st := e.snapshot(); st.Flows.Active != 0 || st.Flows.Expired != 3 {
		t.Errorf("after idle flush: %+v", st.Flows)
	}
}

func TestDispatch(t *testing.T) {
	t.Parallel()
	hello := []byte("HELF\x20\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\xff\xff\xff\xff")
	msgOf := func(typeID uint16, n int) []byte {
		b := []byte("MSGF\x00\x00\x00\x00\x01\x00\x00\x00\x01\x00\x00\x00\x05\x00\x00\x00\x05\x00\x00\x00")
		b = append(b, 1, 0, byte(typeID), byte(typeID>>8))
		b = append(b, make([]byte, n)...)
		b[4] = byte(len(b))
		return b
	}
	readReq, readResp := msgOf(631, 40), msgOf(634, 40)
	cipher := msgOf(0x9999, 40)
	cipher[24] = 0x77 // not a NodeId encoding
	tests := []struct {
		name       string
		gen        func(w *pcapgen.Writer) error
		wantConn   string // client->server of the one session, "" for none
		wantOther  uint64
		wantOPCUA  uint64
		wantStream string
	}{
		{"server port 502", func(w *pcapgen.Writer) error {
			return w.Conn(ap("10.0.0.1:40000"), ap("10.0.0.2:502")).Send(true, []byte("q"))
		}, "10.0.0.1:40000->10.0.0.2:502", 0, 0, "q"},
		{"first packet from the server", func(w *pcapgen.Writer) error {
			return w.Conn(ap("10.0.0.1:40000"), ap("10.0.0.2:502")).Send(false, []byte("r"))
		}, "10.0.0.1:40000->10.0.0.2:502", 0, 0, ""},
		{"both ports 502, SYN names the client", func(w *pcapgen.Writer) error {
			c := w.Conn(ap("10.0.0.9:502"), ap("10.0.0.2:502"))
			return errors.Join(c.Handshake(), c.Send(true, []byte("q")))
		}, "10.0.0.9:502->10.0.0.2:502", 0, 0, "q"},
		{"other port", func(w *pcapgen.Writer) error {
			return w.Conn(ap("10.0.0.1:40000"), ap("10.0.0.2:80")).Send(true, []byte("GET /"))
		}, "", 1, 0, ""},
		{"OPC UA hello on any port", func(w *pcapgen.Writer) error {
			return w.Conn(ap("10.0.0.1:40000"), ap("10.0.0.2:4841")).Send(true, hello)
		}, "10.0.0.1:40000->10.0.0.2:4841", 0, 1, string(hello)},
		{"OPC UA port 4840", func(w *pcapgen.Writer) error {
			return w.Conn(ap("10.0.0.1:40000"), ap("10.0.0.2:4840")).Send(true, []byte("x"))
		}, "10.0.0.1:40000->10.0.0.2:4840", 0, 0, "x"},
		{"OPC UA response mid-session, server on the higher port", func(w *pcapgen.Writer) error {
			// a ReadResponse (634) travels from the server: its sender is the server
			return w.Conn(ap("10.0.0.1:1000"), ap("10.0.0.2:5000")).Send(false, readResp)
		}, "10.0.0.1:1000->10.0.0.2:5000", 0, 1, ""},
		{"OPC UA request mid-session, client on the lower port", func(w *pcapgen.Writer) error {
			return w.Conn(ap("10.0.0.1:1000"), ap("10.0.0.2:5000")).Send(true, readReq)
		}, "10.0.0.1:1000->10.0.0.2:5000", 0, 1, string(readReq)},
		{"OPC UA ciphertext mid-session: the lower port is the server's", func(w *pcapgen.Writer) error {
			return w.Conn(ap("10.0.0.1:40000"), ap("10.0.0.2:4841")).Send(false, cipher)
		}, "10.0.0.1:40000->10.0.0.2:4841", 0, 1, ""},
		{"invalid chunk size is not OPC UA", func(w *pcapgen.Writer) error {
			return w.Conn(ap("10.0.0.1:40000"), ap("10.0.0.2:4841")).Send(true, []byte("MSGF\x01\x00\x00\x00garbage"))
		}, "", 1, 0, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newCore([]uint16{502}, []uint16{4840}, 10, time.Minute, 0, 0)
			ss := runCoreWith(t, genFile(t, tc.gen), e)
			var keys []string
			for k := range ss.byConn {
				keys = append(keys, k)
			}
			want := []string{}
			if tc.wantConn != "" {
				want = []string{tc.wantConn}
			}
			if diff := cmp.Diff(want, append([]string{}, keys...)); diff != "" {
				t.Errorf("sessions (-want +got):\n%s", diff)
			}
			if tc.wantConn != "" && string(ss.byConn[tc.wantConn].data[0]) != tc.wantStream {
				t.Errorf("client stream = %q, want %q", ss.byConn[tc.wantConn].data[0], tc.wantStream)
			}
			st := e.snapshot()
			if st.OtherTCP != tc.wantOther || st.OPCUARecognized != tc.wantOPCUA {
				t.Errorf("other %d opcua recognised %d, want %d %d", st.OtherTCP, st.OPCUARecognized, tc.wantOther, tc.wantOPCUA)
			}
		})
	}
}

func TestPortReuse(t *testing.T) {
	t.Parallel()
	path := genFile(t, func(w *pcapgen.Writer) error {
		c := w.Conn(ap("10.0.0.1:40000"), ap("10.0.0.2:502"))
		if err := errors.Join(c.Handshake(), c.Send(true, []byte("one")), c.Close()); err != nil {
			return err
		}
		// a late retransmission of the closed connection's data is ignored
		if err := c.Write(pcapgen.Seg{ToServer: true, Seq: c.ClientSeq - 4, Flags: pcapgen.ACK | pcapgen.PSH, Payload: []byte("one")}); err != nil {
			return err
		}
		c2 := w.Conn(ap("10.0.0.1:40000"), ap("10.0.0.2:502"))
		c2.ClientSeq = 900000
		return errors.Join(c2.Handshake(), c2.Send(true, []byte("two")), c2.Close())
	})
	e := newCore([]uint16{502}, nil, 10, time.Minute, 0, 0)
	var got []string
	e.modbus = func(client, server netip.AddrPort) streamHandler {
		s := &sink{}
		got = append(got, "new")
		return recorder{s, &got}
	}
	src, err := OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	for {
		p, err := src.ReadPacket(context.Background())
		if err != nil {
			break
		}
		e.process(&p)
	}
	want := []string{"new", "one", "close", "new", "two", "close"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("session events (-want +got):\n%s", diff)
	}
	if st := e.snapshot(); st.Flows.Reopened != 1 {
		t.Errorf("reopened = %d, want 1", st.Flows.Reopened)
	}
}

// recorder logs Feed and Close calls in order.
type recorder struct {
	*sink
	log *[]string
}

func (r recorder) Feed(toServer bool, p []byte, ts time.Time) { *r.log = append(*r.log, string(p)) }
func (r recorder) Close(time.Time)                            { *r.log = append(*r.log, "close") }

// TestLivePorts checks the live capture filter's ports: 502 and 4840
// always, plus the configured ones.
func TestLivePorts(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		ports Ports
		want  []uint16
	}{
		{Ports{}, []uint16{502, 4840}},
		{Ports{Modbus: []uint16{5020}, OPCUA: []uint16{4841}}, []uint16{502, 4840, 4841, 5020}},
		{Ports{Modbus: []uint16{502, 502}, OPCUA: []uint16{4840, 12001}}, []uint16{502, 4840, 12001}},
	} {
		if diff := cmp.Diff(tc.want, livePorts(tc.ports)); diff != "" {
			t.Errorf("livePorts(%+v) (-want +got):\n%s", tc.ports, diff)
		}
	}
}

// TestMACTableLRU: the MAC table (2×MaxFlows addresses) evicts the least
// recently seen address when full instead of no longer learning new ones,
// and keeps the first MAC seen per address.
func TestMACTableLRU(t *testing.T) {
	t.Parallel()
	mac := func(i int) net.HardwareAddr { return net.HardwareAddr{2, 0, 0, 0, 0, byte(i)} }
	path := genFile(t, func(w *pcapgen.Writer) error {
		for i := range 6 {
			cli := pcapgen.Endpoint{MAC: mac(i), Addr: netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 1, byte(i)}), 40000)}
			srv := pcapgen.Endpoint{MAC: mac(100), Addr: netip.MustParseAddrPort("10.0.0.2:502")}
			c := w.Conn(cli, srv)
			if err := errors.Join(c.Handshake(), c.Send(true, []byte("abc"))); err != nil {
				return err
			}
		}
		return nil
	})
	e := newCore([]uint16{502}, nil, 2, time.Minute, 0, 0) // 4 MAC addresses
	runCoreWith(t, path, e)
	if st := e.snapshot(); st.MACsEvicted != 3 {
		t.Errorf("MACsEvicted = %d, want 3 (7 addresses, room for 4)", st.MACsEvicted)
	}
	for i, want := range map[int]bool{0: false, 4: true, 5: true} {
		n := e.macs.Peek(netip.AddrFrom4([4]byte{10, 0, 1, byte(i)}))
		if (n != nil) != want || (n != nil && net.HardwareAddr(n.Val[:]).String() != mac(i).String()) {
			t.Errorf("client %d: MAC node %v, want learned %v with %s", i, n, want, mac(i))
		}
	}
	if n := e.macs.Peek(netip.MustParseAddr("10.0.0.2")); n == nil || net.HardwareAddr(n.Val[:]).String() != mac(100).String() {
		t.Errorf("server MAC: %v, want %s (seen on every connection)", n, mac(100))
	}
}

// TestRestoreLearned: a stored learned state is given to a new engine; one
// that does not decode is logged and left out, and the engine starts
// learning afresh.
func TestRestoreLearned(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, tc := range []struct {
		name, state string
		writers     int
		logged      bool
	}{
		{"stored", `{"start":"2026-01-01T00:00:00Z","writers":["10.0.0.1","10.0.0.2"]}`, 2, false},
		{"none", "", 0, false},
		{"damaged", `{"writers":["10.0.0.1",`, 0, true},
		{"not an address", `{"writers":["plc-1"]}`, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var logs strings.Builder
			c, err := New(Config{}, slog.New(slog.NewTextHandler(&logs, nil)))
			if err != nil {
				t.Fatal(err)
			}
			var cp memCheckpoints
			if tc.state != "" {
				cp.m = map[string][]byte{learnedCheckpoint: []byte(tc.state)}
			}
			eng, err := NewEngine(c.cfg, nil)
			if err != nil {
				t.Fatal(err)
			}
			c.restoreLearned(ctx, &cp, eng)
			l := eng.mb.Learned()
			if len(l.Writers) != tc.writers {
				t.Errorf("writers %v, want %d", l.Writers, tc.writers)
			}
			if got := strings.Contains(logs.String(), "not restored"); got != tc.logged {
				t.Errorf("logged a warning: %t, want %t; log:\n%s", got, tc.logged, logs.String())
			}
		})
	}
}
