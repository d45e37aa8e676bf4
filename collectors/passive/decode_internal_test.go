package passive

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/edgeward/edgeward/collectors/passive/internal/pcapgen"
)

// ipv4TCP returns an IPv4 packet carrying a TCP segment 10.0.0.1:40000 ->
// 10.0.0.2:502 with payload.
func ipv4TCP(payload []byte, fragFlags uint16) []byte {
	ip := make([]byte, 20+20+len(payload))
	ip[0] = 0x45
	binary.BigEndian.PutUint16(ip[2:4], uint16(len(ip)))
	binary.BigEndian.PutUint16(ip[6:8], fragFlags)
	ip[8], ip[9] = 64, 6
	copy(ip[12:16], []byte{10, 0, 0, 1})
	copy(ip[16:20], []byte{10, 0, 0, 2})
	tcp := ip[20:]
	binary.BigEndian.PutUint16(tcp[0:2], 40000)
	binary.BigEndian.PutUint16(tcp[2:4], 502)
	binary.BigEndian.PutUint32(tcp[4:8], 77)
	tcp[12] = 5 << 4
	tcp[13] = tcpACK
	copy(tcp[20:], payload)
	return ip
}

// ipv6TCP returns an IPv6 packet with the given extension headers (each
// 8 bytes, next-header chained) before a TCP segment.
func ipv6TCP(payload []byte, ext ...byte) []byte {
	tcp := make([]byte, 20+len(payload))
	binary.BigEndian.PutUint16(tcp[0:2], 40000)
	binary.BigEndian.PutUint16(tcp[2:4], 502)
	tcp[12] = 5 << 4
	copy(tcp[20:], payload)
	var exts []byte
	next := byte(6)
	for i := len(ext) - 1; i >= 0; i-- {
		h := make([]byte, 8)
		h[0] = next
		exts = append(h, exts...)
		next = ext[i]
	}
	ip := make([]byte, 40)
	ip[0] = 0x60
	binary.BigEndian.PutUint16(ip[4:6], uint16(len(exts)+len(tcp)))
	ip[6], ip[7] = next, 64
	ip[23], ip[39] = 1, 2
	return append(append(ip, exts...), tcp...)
}

func TestDecodeFrame(t *testing.T) {
	t.Parallel()
	pl := []byte("hello")
	eth := func(typ uint16, rest []byte) []byte {
		b := make([]byte, 14)
		copy(b[6:12], []byte{0, 0x0e, 0x8c, 1, 2, 3})
		binary.BigEndian.PutUint16(b[12:14], typ)
		return append(b, rest...)
	}
	sll2 := func(rest []byte) []byte {
		b := make([]byte, 20)
		binary.BigEndian.PutUint16(b[0:2], 0x0800)
		b[11] = 6
		copy(b[12:18], []byte{0, 0x0e, 0x8c, 1, 2, 3})
		return append(b, rest...)
	}
	null := func(fam uint32, le bool, rest []byte) []byte {
		b := make([]byte, 4)
		if le {
			binary.LittleEndian.PutUint32(b, fam)
		} else {
			binary.BigEndian.PutUint32(b, fam)
		}
		return append(b, rest...)
	}
	padded := append(ipv4TCP(pl, 0), 0, 0, 0, 0, 0, 0) // Ethernet padding after the IP packet
	tests := []struct {
		name    string
		link    LinkType
		frame   []byte
		want    decodeResult
		payload string
	}{
		{"ethernet ipv4", LinkTypeEthernet, eth(0x0800, ipv4TCP(pl, 0)), resultTCP, "hello"},
		{"ethernet padding trimmed", LinkTypeEthernet, eth(0x0800, padded), resultTCP, "hello"},
		{"sll2", LinkTypeLinuxSLL2, sll2(ipv4TCP(pl, 0)), resultTCP, "hello"},
		{"null little endian", LinkTypeNull, null(2, true, ipv4TCP(pl, 0)), resultTCP, "hello"},
		{"null big endian ipv6", LinkTypeNull, null(30, false, ipv6TCP(pl)), resultTCP, "hello"},
		{"loop", LinkTypeLoop, null(2, false, ipv4TCP(pl, 0)), resultTCP, "hello"},
		{"raw ipv6 extension headers", LinkTypeRaw, ipv6TCP(pl, 0, 60, 43), resultTCP, "hello"},
		{"ipv4 IPv4 link type", LinkTypeIPv4, ipv4TCP(pl, 0), resultTCP, "hello"},
		{"ipv4 more fragments", LinkTypeRaw, ipv4TCP(pl, 0x2000), resultFragment, ""},
		{"ipv4 fragment offset", LinkTypeRaw, ipv4TCP(pl, 0x0010), resultFragment, ""},
		{"ipv4 don't fragment", LinkTypeRaw, ipv4TCP(pl, 0x4000), resultTCP, "hello"},
		{"ipv6 fragment", LinkTypeRaw, ipv6TCP(pl, 44), resultFragment, ""},
		{"arp", LinkTypeEthernet, eth(0x0806, make([]byte, 28)), resultNotIP, ""},
		{"too many vlan tags", LinkTypeEthernet, eth(0x8100, bytes.Repeat([]byte{0, 1, 0x81, 0}, 6)), resultNotIP, ""},
		{"short ethernet", LinkTypeEthernet, make([]byte, 10), resultShortLink, ""},
		{"short ip", LinkTypeEthernet, eth(0x0800, []byte{0x45, 0}), resultShortIP, ""},
		{"bad version", LinkTypeRaw, append([]byte{0x75}, make([]byte, 40)...), resultBadIP, ""},
		{"short tcp", LinkTypeRaw, ipv4TCP(pl, 0)[:30], resultShortTCP, ""},
		{"unsupported link", LinkType(147), make([]byte, 60), resultUnsupportedLink, ""},
		{"empty", LinkTypeEthernet, nil, resultShortLink, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var s segment
			got := decodeFrame(tc.link, tc.frame, &s)
			if got != tc.want {
				t.Fatalf("decodeFrame = %s, want %s", resultNames[got], resultNames[tc.want])
			}
			if got == resultTCP && string(s.payload) != tc.payload {
				t.Errorf("payload = %q, want %q", s.payload, tc.payload)
			}
		})
	}
}

// FuzzDecodeFrame feeds arbitrary bytes to the frame decoder under every
// link type it knows: it must never panic, and a decoded payload must lie
// within the frame.
func FuzzDecodeFrame(f *testing.F) {
	f.Add(uint8(0), ipv4TCP([]byte("x"), 0))
	f.Add(uint8(3), ipv6TCP([]byte("x"), 0, 44))
	links := []LinkType{LinkTypeEthernet, LinkTypeLinuxSLL, LinkTypeLinuxSLL2,
		LinkTypeRaw, LinkTypeNull, LinkTypeLoop}
	f.Fuzz(func(t *testing.T, lt uint8, frame []byte) {
		var s segment
		if decodeFrame(links[int(lt)%len(links)], frame, &s) == resultTCP && len(s.payload) > len(frame) {
			t.Fatalf("payload of %d bytes from a %d-byte frame", len(s.payload), len(frame))
		}
	})
}

// TestPcapng writes the same conversation as pcap and as pcapng and checks
// that both deliver the same streams.
func TestPcapng(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pcapPath := filepath.Join(dir, "c.pcap")
	f, err := os.Create(pcapPath)
	if err != nil {
		t.Fatal(err)
	}
	w, err := pcapgen.NewWriter(f, layers.LinkTypeEthernet, 0)
	if err != nil {
		t.Fatal(err)
	}
	cli, srv := endpoints(false)
	c := w.Conn(cli, srv)
	req, resp := pcapgen.ReadHolding(9, 1, 0, 3)
	if err := errors.Join(c.Handshake(), c.Send(true, req), c.Send(false, resp), c.Close()); err != nil {
		t.Fatal(err)
	}
	f.Close()

	ngPath := filepath.Join(dir, "c.pcapng")
	src, err := OpenFile(pcapPath)
	if err != nil {
		t.Fatal(err)
	}
	nf, err := os.Create(ngPath)
	if err != nil {
		t.Fatal(err)
	}
	nw, err := pcapgo.NewNgWriterInterface(nf, pcapgo.NgInterface{Name: "eth0", LinkType: layers.LinkTypeEthernet, SnapLength: 65535}, pcapgo.DefaultNgWriterOptions)
	if err != nil {
		t.Fatal(err)
	}
	for {
		p, err := src.ReadPacket(context.Background())
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		ci := gopacket.CaptureInfo{Timestamp: p.Timestamp, CaptureLength: p.CaptureLength, Length: p.Length}
		if err := nw.WritePacket(ci, p.Data); err != nil {
			t.Fatal(err)
		}
	}
	src.Close()
	if err := nw.Flush(); err != nil {
		t.Fatal(err)
	}
	nf.Close()

	a, _ := runCore(t, pcapPath)
	b, _ := runCore(t, ngPath)
	key := cli.Addr.String() + "->" + srv.Addr.String()
	if a.byConn[key] == nil || b.byConn[key] == nil {
		t.Fatalf("connection missing: pcap %v, pcapng %v", a.byConn, b.byConn)
	}
	if diff := cmp.Diff(a.byConn[key].data, b.byConn[key].data); diff != "" {
		t.Errorf("pcapng streams differ from pcap (-pcap +pcapng):\n%s", diff)
	}
	if string(b.byConn[key].data[0]) != string(req) {
		t.Errorf("client stream = %x, want %x", b.byConn[key].data[0], req)
	}
	if _, err := OpenFile(filepath.Join(dir, "nope")); err == nil {
		t.Error("OpenFile of a missing file succeeded")
	}
	junk := filepath.Join(dir, "junk")
	if err := os.WriteFile(junk, []byte("not a capture"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenFile(junk); !errors.Is(err, ErrUnknownFormat) {
		t.Errorf("OpenFile(junk) = %v, want ErrUnknownFormat", err)
	}
}

func TestRateLimiter(t *testing.T) {
	t.Parallel()
	r := newRateLimiter(time.Minute, 4)
	t0 := time.Unix(1000, 0)
	src := netipAddr("10.0.0.1")
	type step struct {
		ok         bool
		suppressed uint64
	}
	var got []step
	// The last three: the clock went back an hour, then a second forward.
	for _, dt := range []time.Duration{0, time.Second, 30 * time.Second, 61 * time.Second, 62 * time.Second, 200 * time.Second,
		200*time.Second - time.Hour, 201*time.Second - time.Hour, 202*time.Second - time.Hour} {
		ok, n := r.allow("modbus.scan", src, t0.Add(dt))
		got = append(got, step{ok, n})
	}
	want := []step{{true, 0}, {false, 0}, {false, 0}, {true, 2}, {false, 0}, {true, 1}, {true, 0}, {false, 0}, {false, 0}}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(step{})); diff != "" {
		t.Errorf("allow (-want +got):\n%s", diff)
	}
	// The table stays bounded.
	for i := range 100 {
		r.allow("k"+string(rune('a'+i%26))+string(rune('a'+i/26)), src, t0)
	}
	if r.t.Len() > 4 {
		t.Errorf("rate table holds %d keys, bound 4", r.t.Len())
	}
}

func TestOUI(t *testing.T) {
	t.Parallel()
	tab, err := sharedOUI()
	if err != nil {
		t.Fatal(err)
	}
	if len(tab.prefixes) < 10000 {
		t.Fatalf("only %d OUIs loaded", len(tab.prefixes))
	}
	for _, tc := range []struct {
		mac  [6]byte
		want string
	}{
		{[6]byte{0x00, 0x0e, 0x8c, 1, 2, 3}, "Siemens AG"},
		{[6]byte{0x02, 0x0e, 0x8c, 1, 2, 3}, ""}, // locally administered
		{[6]byte{0x01, 0x00, 0x5e, 1, 2, 3}, ""}, // multicast
		{[6]byte{}, ""},                          // loopback / cooked capture: no MAC
	} {
		if got := tab.vendor(tc.mac); got != tc.want {
			t.Errorf("vendor(%x) = %q, want %q", tc.mac, got, tc.want)
		}
	}
}

func netipAddr(s string) netip.Addr { return netip.MustParseAddr(s) }

// TestPcapngInterfaces writes a pcapng file with an Ethernet and a raw IP
// interface (nanosecond timestamps), their frames interleaved, and checks
// that every frame is read with its own link type and timestamp.
func TestPcapngInterfaces(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	// gen writes one conversation on link to a pcap file and returns its packets.
	gen := func(link LinkType, port uint16) []Packet {
		path := filepath.Join(dir, link.String()+".pcap")
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		w, err := pcapgen.NewWriter(f, layers.LinkType(link), 0)
		if err != nil {
			t.Fatal(err)
		}
		w.Time = w.Time.Add(123456789 * time.Nanosecond)
		cli, srv := endpoints(false)
		cli.Addr = netip.AddrPortFrom(cli.Addr.Addr(), port)
		c := w.Conn(cli, srv)
		req, resp := pcapgen.ReadHolding(9, 1, 0, 3)
		if err := errors.Join(c.Handshake(), c.Send(true, req), c.Send(false, resp), c.Close()); err != nil {
			t.Fatal(err)
		}
		f.Close()
		src, err := OpenFile(path)
		if err != nil {
			t.Fatal(err)
		}
		defer src.Close()
		var out []Packet
		for {
			p, err := src.ReadPacket(context.Background())
			if errors.Is(err, io.EOF) {
				return out
			}
			if err != nil {
				t.Fatal(err)
			}
			p.Data = append([]byte(nil), p.Data...)
			out = append(out, p)
		}
	}
	eth, raw := gen(LinkTypeEthernet, 40001), gen(LinkTypeRaw, 40002)

	ngPath := filepath.Join(dir, "mixed.pcapng")
	nf, err := os.Create(ngPath)
	if err != nil {
		t.Fatal(err)
	}
	nw, err := pcapgo.NewNgWriterInterface(nf, pcapgo.NgInterface{Name: "eth0", LinkType: layers.LinkTypeEthernet, SnapLength: 65535, TimestampResolution: 9}, pcapgo.DefaultNgWriterOptions)
	if err != nil {
		t.Fatal(err)
	}
	rawID, err := nw.AddInterface(pcapgo.NgInterface{Name: "tun0", LinkType: layers.LinkTypeRaw, SnapLength: 65535, TimestampResolution: 9})
	if err != nil {
		t.Fatal(err)
	}
	for i := range max(len(eth), len(raw)) {
		for _, ifc := range []struct {
			id int
			ps []Packet
		}{{0, eth}, {rawID, raw}} {
			if i < len(ifc.ps) {
				p, id := ifc.ps[i], ifc.id
				ci := gopacket.CaptureInfo{Timestamp: p.Timestamp, CaptureLength: p.CaptureLength, Length: p.Length, InterfaceIndex: id}
				if err := nw.WritePacket(ci, p.Data); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	if err := nw.Flush(); err != nil {
		t.Fatal(err)
	}
	nf.Close()

	src, err := OpenFile(ngPath)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	links := map[LinkType]int{}
	for {
		p, err := src.ReadPacket(context.Background())
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		links[p.LinkType]++
		if p.Timestamp.Nanosecond()%1000 != 789 {
			t.Errorf("timestamp %v lost its nanoseconds", p.Timestamp)
		}
	}
	want := map[LinkType]int{LinkTypeEthernet: len(eth), LinkTypeRaw: len(raw)}
	if diff := cmp.Diff(want, links); diff != "" {
		t.Errorf("frames by link type (-want +got):\n%s", diff)
	}
	ss, e := runCore(t, ngPath)
	if len(ss.byConn) != 2 {
		t.Errorf("sessions %v, want one per interface; stats %+v", ss.byConn, e.snapshot())
	}
}
