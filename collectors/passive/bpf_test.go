package passive

import (
	"encoding/binary"
	"net"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"golang.org/x/net/bpf"
)

// bpfTestFrame describes one frame built with gopacket serialization.
type bpfTestFrame struct {
	link     LinkType
	vlans    []layers.EthernetType // TPIDs of the tags, outermost first
	ipv6     bool
	udp      bool
	arp      bool
	fragment uint16 // IPv4 fragment offset in 8-byte units
	options  bool   // IPv4 header with options (IHL > 5)
	src, dst uint16
	payload  int
}

// bytes serializes f.
func (f bpfTestFrame) bytes(t testing.TB) []byte {
	t.Helper()
	var ls []gopacket.SerializableLayer
	ipType := layers.EthernetTypeIPv4
	family := layers.ProtocolFamilyIPv4
	if f.ipv6 {
		ipType = layers.EthernetTypeIPv6
		family = layers.ProtocolFamilyIPv6Linux
	}
	if f.arp {
		ipType = layers.EthernetTypeARP
	}
	switch f.link {
	case LinkTypeEthernet:
		first := ipType
		if len(f.vlans) > 0 {
			first = f.vlans[0]
		}
		ls = append(ls, &layers.Ethernet{
			SrcMAC:       net.HardwareAddr{0, 1, 2, 3, 4, 5},
			DstMAC:       net.HardwareAddr{0, 1, 2, 3, 4, 6},
			EthernetType: first,
		})
		for i := range f.vlans {
			next := ipType
			if i+1 < len(f.vlans) {
				next = f.vlans[i+1]
			}
			ls = append(ls, &layers.Dot1Q{VLANIdentifier: uint16(10 + i), Type: next})
		}
	case LinkTypeNull, LinkTypeLoop:
		ls = append(ls, &layers.Loopback{Family: family})
	case LinkTypeRaw:
	default:
		t.Fatalf("unsupported link type %v", f.link)
	}
	if f.arp {
		ls = append(ls, &layers.ARP{
			AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4,
			HwAddressSize: 6, ProtAddressSize: 4, Operation: layers.ARPRequest,
			SourceHwAddress: []byte{0, 1, 2, 3, 4, 5}, SourceProtAddress: []byte{10, 0, 0, 1},
			DstHwAddress: []byte{0, 0, 0, 0, 0, 0}, DstProtAddress: []byte{10, 0, 0, 2},
		})
		return bpfSerialize(t, ls...)
	}
	proto := layers.IPProtocolTCP
	if f.udp {
		proto = layers.IPProtocolUDP
	}
	var netLayer gopacket.NetworkLayer
	if f.ipv6 {
		ip := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: proto,
			SrcIP: net.ParseIP("fd00::1"), DstIP: net.ParseIP("fd00::2")}
		netLayer = ip
		ls = append(ls, ip)
	} else {
		ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: proto, FragOffset: f.fragment,
			SrcIP: net.IPv4(192, 168, 1, 10), DstIP: net.IPv4(192, 168, 1, 20)}
		if f.options {
			ip.Options = []layers.IPv4Option{{OptionType: 1}, {OptionType: 1}, {OptionType: 1}, {OptionType: 0}}
		}
		netLayer = ip
		ls = append(ls, ip)
	}
	payload := gopacket.Payload(make([]byte, f.payload))
	if f.udp {
		udp := &layers.UDP{SrcPort: layers.UDPPort(f.src), DstPort: layers.UDPPort(f.dst)}
		if err := udp.SetNetworkLayerForChecksum(netLayer); err != nil {
			t.Fatal(err)
		}
		ls = append(ls, udp, payload)
	} else {
		tcp := &layers.TCP{SrcPort: layers.TCPPort(f.src), DstPort: layers.TCPPort(f.dst), Seq: 1000, Ack: 1, PSH: true, ACK: true, Window: 512}
		if err := tcp.SetNetworkLayerForChecksum(netLayer); err != nil {
			t.Fatal(err)
		}
		ls = append(ls, tcp, payload)
	}
	return bpfSerialize(t, ls...)
}

func bpfSerialize(t testing.TB, ls ...gopacket.SerializableLayer) []byte {
	t.Helper()
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		t.Fatalf("serialize: %v", err)
	}
	return buf.Bytes()
}

// runFilter runs raw in x/net/bpf's VM and returns the number of bytes kept.
func bpfRun(t testing.TB, raw []bpf.RawInstruction, frame []byte) int {
	t.Helper()
	insns, ok := bpf.Disassemble(raw)
	if !ok {
		t.Fatalf("disassemble: program has raw instructions the VM cannot run")
	}
	vm, err := bpf.NewVM(insns)
	if err != nil {
		t.Fatalf("new vm: %v", err)
	}
	n, err := vm.Run(frame)
	if err != nil {
		t.Fatalf("run vm: %v", err)
	}
	return n
}

func TestBuildFilterVerdicts(t *testing.T) {
	t.Parallel()
	const snap = 1600
	ports := []uint16{502, 4840, 20000}
	eth := LinkTypeEthernet
	tests := []struct {
		name   string
		frame  bpfTestFrame
		accept bool
	}{
		{"ipv4 to 502", bpfTestFrame{link: eth, src: 50000, dst: 502, payload: 12}, true},
		{"ipv4 from 502", bpfTestFrame{link: eth, src: 502, dst: 50000, payload: 11}, true},
		{"ipv4 to 4840", bpfTestFrame{link: eth, src: 41000, dst: 4840}, true},
		{"ipv4 from configured port", bpfTestFrame{link: eth, src: 20000, dst: 41000}, true},
		{"ipv4 with options to 502", bpfTestFrame{link: eth, options: true, src: 50000, dst: 502}, true},
		{"ipv4 other ports", bpfTestFrame{link: eth, src: 50000, dst: 80}, false},
		{"ipv4 port 503", bpfTestFrame{link: eth, src: 503, dst: 501}, false},
		{"ipv4 udp 502", bpfTestFrame{link: eth, udp: true, src: 50000, dst: 502}, false},
		{"ipv4 later fragment", bpfTestFrame{link: eth, fragment: 185, src: 50000, dst: 502}, false},
		{"ipv6 to 502", bpfTestFrame{link: eth, ipv6: true, src: 50000, dst: 502, payload: 12}, true},
		{"ipv6 from 4840", bpfTestFrame{link: eth, ipv6: true, src: 4840, dst: 50000}, true},
		{"ipv6 other ports", bpfTestFrame{link: eth, ipv6: true, src: 50000, dst: 443}, false},
		{"ipv6 udp 502", bpfTestFrame{link: eth, ipv6: true, udp: true, src: 502, dst: 502}, false},
		{"vlan ipv4 to 502", bpfTestFrame{link: eth, vlans: []layers.EthernetType{layers.EthernetTypeDot1Q}, src: 50000, dst: 502}, true},
		{"vlan ipv6 from 502", bpfTestFrame{link: eth, vlans: []layers.EthernetType{layers.EthernetTypeDot1Q}, ipv6: true, src: 502, dst: 50000}, true},
		{"vlan ipv4 other ports", bpfTestFrame{link: eth, vlans: []layers.EthernetType{layers.EthernetTypeDot1Q}, src: 50000, dst: 8080}, false},
		{"802.1ad ipv4 to 502", bpfTestFrame{link: eth, vlans: []layers.EthernetType{layers.EthernetTypeQinQ}, src: 50000, dst: 502}, true},
		{"qinq ipv4 to 502", bpfTestFrame{link: eth, vlans: []layers.EthernetType{layers.EthernetTypeQinQ, layers.EthernetTypeDot1Q}, src: 50000, dst: 502}, true},
		{"qinq ipv6 to 4840", bpfTestFrame{link: eth, vlans: []layers.EthernetType{layers.EthernetTypeDot1Q, layers.EthernetTypeDot1Q}, ipv6: true, src: 50000, dst: 4840}, true},
		{"qinq udp 502", bpfTestFrame{link: eth, vlans: []layers.EthernetType{layers.EthernetTypeQinQ, layers.EthernetTypeDot1Q}, udp: true, src: 50000, dst: 502}, false},
		{"arp", bpfTestFrame{link: eth, arp: true}, false},
		{"vlan arp", bpfTestFrame{link: eth, vlans: []layers.EthernetType{layers.EthernetTypeDot1Q}, arp: true}, false},
		{"null ipv4 to 502", bpfTestFrame{link: LinkTypeNull, src: 50000, dst: 502}, true},
		{"null ipv6 from 502", bpfTestFrame{link: LinkTypeNull, ipv6: true, src: 502, dst: 50000}, true},
		{"null ipv4 other ports", bpfTestFrame{link: LinkTypeNull, src: 50000, dst: 25}, false},
		{"raw ipv4 to 502", bpfTestFrame{link: LinkTypeRaw, src: 50000, dst: 502}, true},
		{"raw ipv6 to 4840", bpfTestFrame{link: LinkTypeRaw, ipv6: true, src: 50000, dst: 4840}, true},
		{"raw ipv4 udp 502", bpfTestFrame{link: LinkTypeRaw, udp: true, src: 502, dst: 502}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			raw, err := buildFilter(bpfFilterSpec{ports: ports, snaplen: snap, link: tc.frame.link})
			if err != nil {
				t.Fatalf("buildFilter: %v", err)
			}
			want := 0
			if tc.accept {
				want = snap
			}
			if got := bpfRun(t, raw, tc.frame.bytes(t)); got != want {
				t.Errorf("verdict: want %d bytes kept, got %d", want, got)
			}
		})
	}
}

func TestBuildFilterShortFrames(t *testing.T) {
	t.Parallel()
	raw, err := BuildFilter([]uint16{502}, 0)
	if err != nil {
		t.Fatalf("BuildFilter: %v", err)
	}
	full := bpfTestFrame{link: LinkTypeEthernet, src: 50000, dst: 502}.bytes(t)
	if got := bpfRun(t, raw, full); got != bpfDefaultSnapLen {
		t.Fatalf("full frame: want %d bytes kept, got %d", bpfDefaultSnapLen, got)
	}
	// Every truncation before the destination port ends is rejected, never a fault.
	for n := range 14 + 20 + 4 {
		if got := bpfRun(t, raw, full[:n]); got != 0 {
			t.Errorf("frame cut to %d bytes: want reject, got %d bytes kept", n, got)
		}
	}
}

func TestBuildFilterErrors(t *testing.T) {
	t.Parallel()
	many := make([]uint16, bpfMaxPorts+1)
	for i := range many {
		many[i] = uint16(1000 + i)
	}
	tests := []struct {
		name string
		spec bpfFilterSpec
	}{
		{"no ports", bpfFilterSpec{link: LinkTypeEthernet}},
		{"port zero", bpfFilterSpec{ports: []uint16{0, 502}, link: LinkTypeEthernet}},
		{"too many ports", bpfFilterSpec{ports: many, link: LinkTypeEthernet}},
		{"negative snaplen", bpfFilterSpec{ports: []uint16{502}, snaplen: -1, link: LinkTypeEthernet}},
		{"huge snaplen", bpfFilterSpec{ports: []uint16{502}, snaplen: bpfMaxSnapLen + 1, link: LinkTypeEthernet}},
		{"unknown link type", bpfFilterSpec{ports: []uint16{502}, link: LinkType(105)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if _, err := buildFilter(tc.spec); err == nil {
				t.Fatal("buildFilter: want an error, got nil")
			}
		})
	}
	// The largest allowed set still assembles (all jumps within 255).
	if _, err := buildFilter(bpfFilterSpec{ports: many[:bpfMaxPorts], link: LinkTypeEthernet, dropOutgoing: true}); err != nil {
		t.Fatalf("buildFilter with %d ports: %v", bpfMaxPorts, err)
	}
}

func TestBuildFilterDuplicatePorts(t *testing.T) {
	t.Parallel()
	a, err := BuildFilter([]uint16{4840, 502, 502, 4840}, 256)
	if err != nil {
		t.Fatal(err)
	}
	b, err := BuildFilter([]uint16{502, 4840}, 256)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(b, a); diff != "" {
		t.Errorf("program with duplicate ports differs (-want +got):\n%s", diff)
	}
}

// TestBuildFilterDropOutgoing checks the pkttype clause the Linux kernel runs
// first on loopback captures. The VM does not implement the pkttype
// extension, so the test checks the assembled load and then runs the program
// with that load replaced by a constant pkttype.
func TestBuildFilterDropOutgoing(t *testing.T) {
	t.Parallel()
	raw, err := buildFilter(bpfFilterSpec{ports: []uint16{502}, snaplen: 512, link: LinkTypeEthernet, dropOutgoing: true})
	if err != nil {
		t.Fatalf("buildFilter: %v", err)
	}
	// ld [SKF_AD_OFF + SKF_AD_PKTTYPE]: BPF_LD|BPF_W|BPF_ABS, k = 0xfffff000 + 4.
	const skfAdOff = 0xfffff000
	wantFirst := bpf.RawInstruction{Op: 0x20, K: skfAdOff + 4}
	if diff := cmp.Diff(wantFirst, raw[0]); diff != "" {
		t.Fatalf("first instruction (-want +got):\n%s", diff)
	}
	insns, _ := bpf.Disassemble(raw)
	if diff := cmp.Diff(bpf.Instruction(bpf.LoadExtension{Num: bpf.ExtType}), insns[0]); diff != "" {
		t.Fatalf("first instruction disassembled (-want +got):\n%s", diff)
	}
	frame := bpfTestFrame{link: LinkTypeEthernet, src: 50000, dst: 502}.bytes(t)
	for _, tc := range []struct {
		name    string
		pkttype uint32
		want    int
	}{
		{"host", 0, 512},
		{"broadcast", 1, 512},
		{"otherhost", 3, 512},
		{"outgoing", linuxPacketOutgoing, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			prog := append([]bpf.Instruction{bpf.LoadConstant{Dst: bpf.RegA, Val: tc.pkttype}}, insns[1:]...)
			vm, err := bpf.NewVM(prog)
			if err != nil {
				t.Fatalf("new vm: %v", err)
			}
			got, err := vm.Run(frame)
			if err != nil {
				t.Fatalf("run vm: %v", err)
			}
			if got != tc.want {
				t.Errorf("pkttype %d: want %d bytes kept, got %d", tc.pkttype, tc.want, got)
			}
		})
	}
}

func TestBuildFilterFrameHelper(t *testing.T) {
	t.Parallel()
	// Guard the test helper itself: the options frame really has IHL 6 and
	// the fragment frame a non-zero offset.
	b := bpfTestFrame{link: LinkTypeEthernet, options: true, src: 1, dst: 502}.bytes(t)
	if ihl := b[14] & 0x0f; ihl != 6 {
		t.Errorf("options frame: want IHL 6, got %d", ihl)
	}
	f := bpfTestFrame{link: LinkTypeEthernet, fragment: 185, src: 1, dst: 502}.bytes(t)
	if off := binary.BigEndian.Uint16(f[20:22]) & 0x1fff; off != 185 {
		t.Errorf("fragment frame: want offset 185, got %d", off)
	}
}

func BenchmarkBPFFilter(b *testing.B) {
	raw, err := BuildFilter([]uint16{502, 4840}, 0)
	if err != nil {
		b.Fatal(err)
	}
	insns, _ := bpf.Disassemble(raw)
	vm, err := bpf.NewVM(insns)
	if err != nil {
		b.Fatal(err)
	}
	frame := bpfTestFrame{link: LinkTypeEthernet, vlans: []layers.EthernetType{layers.EthernetTypeDot1Q}, src: 50000, dst: 4840, payload: 64}.bytes(b)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if n, _ := vm.Run(frame); n == 0 {
			b.Fatal("frame rejected")
		}
	}
}

func TestNewLiveSettings(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		opts    LiveOptions
		want    liveSettings
		wantErr bool
	}{
		{"defaults", LiveOptions{}, liveSettings{snaplen: 65535, ports: []uint16{502, 4840}, bufferBytes: 8 << 20, poll: 100 * time.Millisecond}, false},
		{"given values", LiveOptions{SnapLen: 1500, Promiscuous: true, Ports: []uint16{1502}, BufferBytes: 1 << 20, PollTimeout: time.Second},
			liveSettings{snaplen: 1500, ports: []uint16{1502}, bufferBytes: 1 << 20, poll: time.Second, promisc: true}, false},
		{"any tcp", LiveOptions{AnyTCP: true}, liveSettings{snaplen: 65535, ports: []uint16{502, 4840}, bufferBytes: 8 << 20, poll: 100 * time.Millisecond, anyTCP: true}, false},
		{"snap length too small", LiveOptions{SnapLen: 63}, liveSettings{}, true},
		{"snap length too large", LiveOptions{SnapLen: bpfMaxSnapLen + 1}, liveSettings{}, true},
		{"negative snap length", LiveOptions{SnapLen: -1}, liveSettings{}, true},
		{"negative buffer", LiveOptions{BufferBytes: -1}, liveSettings{}, true},
		{"poll timeout under 1ms", LiveOptions{PollTimeout: time.Microsecond}, liveSettings{}, true},
		{"negative poll timeout", LiveOptions{PollTimeout: -time.Second}, liveSettings{}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := newLiveSettings(tc.opts)
			if (err != nil) != tc.wantErr {
				t.Fatalf("newLiveSettings: want error %v, got %v", tc.wantErr, err)
			}
			if tc.wantErr {
				return
			}
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(liveSettings{})); diff != "" {
				t.Errorf("settings (-want +got):\n%s", diff)
			}
		})
	}
}

// TestBuildFilterAnyTCP: with anyTCP the filter passes TCP on every port
// (IPv4, IPv6, VLAN-tagged, every link type) and still rejects the rest.
func TestBuildFilterAnyTCP(t *testing.T) {
	t.Parallel()
	const snap = 1600
	eth := LinkTypeEthernet
	dot1q := []layers.EthernetType{layers.EthernetTypeDot1Q}
	tests := []struct {
		name   string
		frame  bpfTestFrame
		accept bool
	}{
		{"ipv4 configured port", bpfTestFrame{link: eth, src: 50000, dst: 502}, true},
		{"ipv4 other ports", bpfTestFrame{link: eth, src: 50000, dst: 48010, payload: 8}, true},
		{"ipv4 with options other ports", bpfTestFrame{link: eth, options: true, src: 50000, dst: 80}, true},
		{"ipv6 other ports", bpfTestFrame{link: eth, ipv6: true, src: 50000, dst: 443}, true},
		{"vlan ipv4 other ports", bpfTestFrame{link: eth, vlans: dot1q, src: 50000, dst: 8080}, true},
		{"qinq ipv6 other ports", bpfTestFrame{link: eth, vlans: []layers.EthernetType{layers.EthernetTypeQinQ, layers.EthernetTypeDot1Q}, ipv6: true, src: 50000, dst: 4841}, true},
		{"null ipv4 other ports", bpfTestFrame{link: LinkTypeNull, src: 50000, dst: 25}, true},
		{"raw ipv6 other ports", bpfTestFrame{link: LinkTypeRaw, ipv6: true, src: 50000, dst: 4843}, true},
		{"ipv4 udp", bpfTestFrame{link: eth, udp: true, src: 50000, dst: 4840}, false},
		{"vlan ipv6 udp", bpfTestFrame{link: eth, vlans: dot1q, ipv6: true, udp: true, src: 50000, dst: 4840}, false},
		{"ipv4 later fragment", bpfTestFrame{link: eth, fragment: 185, src: 50000, dst: 4840}, false},
		{"arp", bpfTestFrame{link: eth, arp: true}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for _, anyTCP := range []bool{false, true} {
				raw, err := buildFilter(bpfFilterSpec{ports: []uint16{502, 4840}, snaplen: snap, link: tc.frame.link, anyTCP: anyTCP})
				if err != nil {
					t.Fatalf("buildFilter: %v", err)
				}
				// without anyTCP only the configured port passes
				want := 0
				if tc.accept && (anyTCP || tc.frame.dst == 502) {
					want = snap
				}
				if got := bpfRun(t, raw, tc.frame.bytes(t)); got != want {
					t.Errorf("anyTCP %v: want %d bytes kept, got %d", anyTCP, want, got)
				}
			}
		})
	}
}
