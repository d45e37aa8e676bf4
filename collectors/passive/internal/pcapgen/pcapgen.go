// Package pcapgen writes synthetic capture files for the passive package's
// tests: TCP connections carrying arbitrary payloads (Modbus/TCP ADUs in
// particular) over Ethernet, 802.1Q VLANs, Linux cooked (SLL) or raw IP,
// IPv4 or IPv6, with full control of segmentation, order, retransmission and
// snap length. Frames are serialised with gopacket and written with
// gopacket/pcapgo.
package pcapgen

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/netip"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// Writer writes frames of one link type to a pcap stream. It is not safe
// for concurrent use.
type Writer struct {
	w       *pcapgo.Writer
	link    layers.LinkType
	snapLen int
	// VLANs are the 802.1Q tags (outermost first) put on Ethernet frames;
	// two tags make QinQ (the outer one 802.1ad).
	VLANs []uint16
	// Time is the timestamp of the next frame; each frame advances it by Step.
	Time time.Time
	// Step is the time between frames; zero means one millisecond.
	Step time.Duration
	buf  gopacket.SerializeBuffer
	n    int
}

// NewWriter writes a pcap header for link (Ethernet, LinuxSLL or Raw) and
// snap length snapLen (0 means 65535) to w.
func NewWriter(w io.Writer, link layers.LinkType, snapLen int) (*Writer, error) {
	if snapLen <= 0 {
		snapLen = 65535
	}
	pw := pcapgo.NewWriterNanos(w)
	if err := pw.WriteFileHeader(uint32(snapLen), link); err != nil {
		return nil, fmt.Errorf("write pcap header: %w", err)
	}
	return &Writer{w: pw, link: link, snapLen: snapLen, Time: time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC),
		buf: gopacket.NewSerializeBuffer()}, nil
}

// Frames returns the number of frames written.
func (w *Writer) Frames() int { return w.n }

// Endpoint is one side of a connection.
type Endpoint struct {
	MAC  net.HardwareAddr
	Addr netip.AddrPort
}

// Conn is a TCP connection between a client and a server. Data returns
// segments without writing them, so a test can reorder or repeat them.
type Conn struct {
	w              *Writer
	Client, Server Endpoint
	// ClientSeq and ServerSeq are the next sequence numbers of each side.
	ClientSeq, ServerSeq uint32
}

// Conn starts a connection; no packet is written until Handshake or Write.
func (w *Writer) Conn(client, server Endpoint) *Conn {
	return &Conn{w: w, Client: client, Server: server, ClientSeq: 1000, ServerSeq: 50000}
}

// Seg is one TCP segment of a Conn.
type Seg struct {
	ToServer bool
	Seq      uint32
	Flags    uint8 // FIN 1, SYN 2, RST 4, PSH 8, ACK 16
	Payload  []byte
}

// TCP flag bits for Seg.Flags.
const (
	FIN = 0x01
	SYN = 0x02
	RST = 0x04
	PSH = 0x08
	ACK = 0x10
)

// Data returns a PSH/ACK segment carrying payload at the current sequence
// number of its side and advances that side.
func (c *Conn) Data(toServer bool, payload []byte) Seg {
	s := Seg{ToServer: toServer, Flags: PSH | ACK, Payload: payload}
	if toServer {
		s.Seq = c.ClientSeq
		c.ClientSeq += uint32(len(payload))
	} else {
		s.Seq = c.ServerSeq
		c.ServerSeq += uint32(len(payload))
	}
	return s
}

// Split returns Data segments that carry payload cut at the given offsets.
func (c *Conn) Split(toServer bool, payload []byte, cuts ...int) []Seg {
	var out []Seg
	prev := 0
	for _, k := range append(cuts, len(payload)) {
		out = append(out, c.Data(toServer, payload[prev:k]))
		prev = k
	}
	return out
}

// Handshake writes SYN, SYN/ACK and ACK.
func (c *Conn) Handshake() error {
	segs := []Seg{
		{ToServer: true, Seq: c.ClientSeq - 1, Flags: SYN},
		{ToServer: false, Seq: c.ServerSeq - 1, Flags: SYN | ACK},
		{ToServer: true, Seq: c.ClientSeq, Flags: ACK},
	}
	return c.Write(segs...)
}

// Send writes one Data segment per payload, alternately as given.
func (c *Conn) Send(toServer bool, payloads ...[]byte) error {
	for _, p := range payloads {
		if err := c.Write(c.Data(toServer, p)); err != nil {
			return err
		}
	}
	return nil
}

// Close writes FIN from the client, FIN from the server and the last ACK.
func (c *Conn) Close() error {
	segs := []Seg{
		{ToServer: true, Seq: c.ClientSeq, Flags: FIN | ACK},
		{ToServer: false, Seq: c.ServerSeq, Flags: FIN | ACK},
		{ToServer: true, Seq: c.ClientSeq + 1, Flags: ACK},
	}
	c.ClientSeq++
	c.ServerSeq++
	return c.Write(segs...)
}

// Write serialises and writes segments in the order given.
func (c *Conn) Write(segs ...Seg) error {
	for _, s := range segs {
		src, dst := c.Client, c.Server
		ack := c.ServerSeq
		if !s.ToServer {
			src, dst = dst, src
			ack = c.ClientSeq
		}
		if err := c.w.writeTCP(src, dst, s, ack); err != nil {
			return err
		}
	}
	return nil
}

func (w *Writer) writeTCP(src, dst Endpoint, s Seg, ack uint32) error {
	tcp := &layers.TCP{
		SrcPort: layers.TCPPort(src.Addr.Port()), DstPort: layers.TCPPort(dst.Addr.Port()),
		Seq: s.Seq, Ack: ack, Window: 65535,
		FIN: s.Flags&FIN != 0, SYN: s.Flags&SYN != 0, RST: s.Flags&RST != 0,
		PSH: s.Flags&PSH != 0, ACK: s.Flags&ACK != 0,
	}
	var ip gopacket.SerializableLayer
	ethType := layers.EthernetTypeIPv4
	if src.Addr.Addr().Is4() {
		ip4 := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP,
			SrcIP: src.Addr.Addr().AsSlice(), DstIP: dst.Addr.Addr().AsSlice()}
		_ = tcp.SetNetworkLayerForChecksum(ip4)
		ip = ip4
	} else {
		ethType = layers.EthernetTypeIPv6
		ip6 := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolTCP,
			SrcIP: src.Addr.Addr().AsSlice(), DstIP: dst.Addr.Addr().AsSlice()}
		_ = tcp.SetNetworkLayerForChecksum(ip6)
		ip = ip6
	}
	ls := []gopacket.SerializableLayer{}
	var prefix []byte
	switch w.link {
	case layers.LinkTypeEthernet:
		eth := &layers.Ethernet{SrcMAC: src.MAC, DstMAC: dst.MAC, EthernetType: ethType}
		if len(w.VLANs) > 0 {
			eth.EthernetType = layers.EthernetTypeDot1Q
			if len(w.VLANs) > 1 {
				eth.EthernetType = layers.EthernetTypeQinQ
			}
		}
		ls = append(ls, eth)
		for i, id := range w.VLANs {
			next := ethType
			if i+1 < len(w.VLANs) {
				next = layers.EthernetTypeDot1Q
			}
			ls = append(ls, &layers.Dot1Q{VLANIdentifier: id, Type: next})
		}
	case layers.LinkTypeLinuxSLL:
		prefix = make([]byte, 16)
		binary.BigEndian.PutUint16(prefix[0:2], 0) // to us
		binary.BigEndian.PutUint16(prefix[2:4], 1) // ARPHRD_ETHER
		binary.BigEndian.PutUint16(prefix[4:6], 6)
		copy(prefix[6:12], src.MAC)
		binary.BigEndian.PutUint16(prefix[14:16], uint16(ethType))
	case layers.LinkTypeRaw:
	default:
		return fmt.Errorf("write frame: unsupported link type %v", w.link)
	}
	ls = append(ls, ip, tcp, gopacket.Payload(s.Payload))
	opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
	if err := gopacket.SerializeLayers(w.buf, opts, ls...); err != nil {
		return fmt.Errorf("serialise frame: %w", err)
	}
	frame := append(prefix, w.buf.Bytes()...)
	return w.WriteFrame(frame)
}

// WriteFrame writes one raw frame, cut to the snap length.
func (w *Writer) WriteFrame(frame []byte) error {
	ci := gopacket.CaptureInfo{Timestamp: w.Time, Length: len(frame), CaptureLength: len(frame)}
	if ci.CaptureLength > w.snapLen {
		ci.CaptureLength = w.snapLen
	}
	step := w.Step
	if step == 0 {
		step = time.Millisecond
	}
	w.Time = w.Time.Add(step)
	w.n++
	if err := w.w.WritePacket(ci, frame[:ci.CaptureLength]); err != nil {
		return fmt.Errorf("write frame: %w", err)
	}
	return nil
}

// ADU builds a Modbus/TCP ADU: MBAP header (transaction id tid, protocol 0,
// length, unit) followed by pdu.
func ADU(tid uint16, unit uint8, pdu ...byte) []byte {
	b := make([]byte, 7, 7+len(pdu))
	binary.BigEndian.PutUint16(b[0:2], tid)
	binary.BigEndian.PutUint16(b[4:6], uint16(len(pdu)+1))
	b[6] = unit
	return append(b, pdu...)
}

// ReadHolding returns a read holding registers (FC 3) request for qty
// registers at addr and its response carrying zero values.
func ReadHolding(tid uint16, unit uint8, addr, qty uint16) (req, resp []byte) {
	req = ADU(tid, unit, 3, byte(addr>>8), byte(addr), byte(qty>>8), byte(qty))
	pdu := make([]byte, 2+2*int(qty))
	pdu[0], pdu[1] = 3, byte(2*qty)
	return req, ADU(tid, unit, pdu...)
}

// WriteSingle returns a write single register (FC 6) request and its echo response.
func WriteSingle(tid uint16, unit uint8, addr, value uint16) (req, resp []byte) {
	req = ADU(tid, unit, 6, byte(addr>>8), byte(addr), byte(value>>8), byte(value))
	return req, append([]byte(nil), req...)
}

// Exception returns an exception response to function fc with code.
func Exception(tid uint16, unit, fc, code uint8) []byte {
	return ADU(tid, unit, fc|0x80, code)
}

// Concat joins byte slices (several ADUs in one segment).
func Concat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}
