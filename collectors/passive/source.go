package passive

import (
	"context"
	"strconv"
	"time"
)

// LinkType is the link-layer header type of a frame, numbered as tcpdump.org's
// LINKTYPE_ values (the pcap header and pcapng interface block field). It is
// defined here rather than taken from gopacket/layers, whose init registers
// every protocol decoder and adds about 2 MB to the binary.
type LinkType uint16

// The link types the decoder knows.
const (
	LinkTypeNull      LinkType = 0   // BSD loopback, host byte order
	LinkTypeEthernet  LinkType = 1   // Ethernet II / 802.3
	LinkTypeRaw       LinkType = 101 // raw IPv4 or IPv6
	LinkTypeLoop      LinkType = 108 // OpenBSD loopback, network byte order
	LinkTypeLinuxSLL  LinkType = 113 // Linux cooked capture v1
	LinkTypeIPv4      LinkType = 228 // raw IPv4
	LinkTypeIPv6      LinkType = 229 // raw IPv6
	LinkTypeLinuxSLL2 LinkType = 276 // Linux cooked capture v2
)

var linkTypeNames = map[LinkType]string{
	LinkTypeNull: "Null", LinkTypeEthernet: "Ethernet", LinkTypeRaw: "Raw", LinkTypeLoop: "Loop",
	LinkTypeLinuxSLL: "LinuxSLL", LinkTypeLinuxSLL2: "LinuxSLL2", LinkTypeIPv4: "IPv4", LinkTypeIPv6: "IPv6",
}

// String returns the link type's name, or "LinkType(N)" for one the decoder
// does not know.
func (t LinkType) String() string {
	if n, ok := linkTypeNames[t]; ok {
		return n
	}
	return "LinkType(" + strconv.Itoa(int(t)) + ")"
}

// Packet is one captured frame. Data aliases the source's buffer and is valid
// until the next ReadPacket call; copy it to keep it.
type Packet struct {
	// Data is the captured bytes, at most CaptureLength long.
	Data []byte
	// Timestamp is the capture time.
	Timestamp time.Time
	// CaptureLength is the number of bytes captured (len(Data)); Length is
	// the length of the frame on the wire. CaptureLength < Length means the
	// frame was truncated by the snap length.
	CaptureLength, Length int
	// LinkType is the link-layer header type of Data.
	LinkType LinkType
	// Interface names the interface the frame was captured on, or is empty
	// for a file without interface names.
	Interface string
}

// Source yields packets from a file or an interface. ReadPacket returns
// io.EOF at the end of a file. A Source is not safe for concurrent use.
type Source interface {
	// ReadPacket returns the next packet; its Data is valid until the next call.
	ReadPacket(ctx context.Context) (Packet, error)
	// Stats reports the packets read and the capture drops so far.
	Stats() SourceStats
	// Close releases the file or socket; it is safe to call more than once.
	Close() error
}

// SourceStats counts what a Source saw. Dropped and IfDropped are the
// kernel's and the driver's capture drops (zero for files).
type SourceStats struct {
	Packets, Dropped, IfDropped uint64
}

// LiveOptions configures a live capture opened with OpenLive.
type LiveOptions struct {
	// SnapLen is the maximum number of bytes kept per frame; zero means 65535.
	SnapLen int
	// Promiscuous puts the interface in promiscuous mode.
	Promiscuous bool
	// Ports are the TCP ports the kernel filter passes (both directions).
	Ports []uint16
	// AnyTCP makes the kernel filter pass every TCP segment (IPv4 or IPv6,
	// untagged or VLAN-tagged) whatever its ports; false passes Ports only.
	AnyTCP bool
	// BufferBytes is the size of the kernel ring buffer; zero means a default.
	BufferBytes int
	// PollTimeout bounds how long ReadPacket blocks before it rechecks its
	// context; zero means a default.
	PollTimeout time.Duration
}
