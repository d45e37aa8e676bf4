package passive

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"os"

	"github.com/gopacket/gopacket/pcapgo"
)

// Magic numbers of the capture formats OpenFile recognises.
const (
	magicPcapngSHB = 0x0a0d0d0a
	magicPcapUs    = 0xa1b2c3d4
	magicPcapNs    = 0xa1b23c4d
)

// fileSource reads a pcap or pcapng file. Packet data is reused between
// ReadPacket calls, so reading allocates nothing per packet.
type fileSource struct {
	f       *os.File
	pcap    *pcapgo.Reader
	ng      *pcapgo.NgReader
	path    string
	packets uint64
}

// OpenFile opens a pcap or pcapng capture file (gzip-compressed pcap too),
// recognised by its magic number whatever the file name. The Source returns
// io.EOF after the last packet; a truncated last record is reported as
// io.ErrUnexpectedEOF. Close the Source to close the file.
func OpenFile(path string) (Source, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open capture: %w", err)
	}
	br := bufio.NewReaderSize(f, 1<<20)
	head, err := br.Peek(4)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("read capture header %q: %w", path, err)
	}
	s := &fileSource{f: f, path: path}
	be, le := binary.BigEndian.Uint32(head), binary.LittleEndian.Uint32(head)
	switch {
	case be == magicPcapngSHB:
		// Mixed link types: without it pcapgo silently skips every frame
		// of an interface whose link type differs from the first one's.
		s.ng, err = pcapgo.NewNgReader(br, pcapgo.NgReaderOptions{WantMixedLinkType: true, SkipUnknownVersion: true})
	case be == magicPcapUs, le == magicPcapUs, be == magicPcapNs, le == magicPcapNs, head[0] == 0x1f && head[1] == 0x8b:
		s.pcap, err = pcapgo.NewReader(br)
	default:
		f.Close()
		return nil, fmt.Errorf("open capture %q: %w (magic %x)", path, ErrUnknownFormat, head)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("read capture header %q: %w", path, err)
	}
	return s, nil
}

// ReadPacket returns the next packet of the file. ctx is not consulted:
// reading a file does not block.
func (s *fileSource) ReadPacket(_ context.Context) (Packet, error) {
	if s.pcap != nil {
		data, ci, err := s.pcap.ZeroCopyReadPacketData()
		if err != nil {
			return Packet{}, s.wrap(err)
		}
		s.packets++
		return Packet{Data: data, Timestamp: ci.Timestamp, CaptureLength: len(data), Length: ci.Length,
			LinkType: s.pcap.LinkType()}, nil
	}
	data, ci, err := s.ng.ZeroCopyReadPacketData()
	if err != nil {
		return Packet{}, s.wrap(err)
	}
	s.packets++
	p := Packet{Data: data, Timestamp: ci.Timestamp, CaptureLength: len(data), Length: ci.Length}
	if ifc, err := s.ng.Interface(ci.InterfaceIndex); err == nil {
		p.LinkType = ifc.LinkType
		p.Interface = ifc.Name
	}
	return p, nil
}

func (s *fileSource) wrap(err error) error {
	if err == io.EOF {
		return io.EOF
	}
	return fmt.Errorf("read capture %q packet %d: %w", s.path, s.packets+1, err)
}

// Stats reports the packets read; files have no capture drops.
func (s *fileSource) Stats() SourceStats { return SourceStats{Packets: s.packets} }

// Close closes the file. It is safe to call more than once.
func (s *fileSource) Close() error {
	if s.f == nil {
		return nil
	}
	err := s.f.Close()
	s.f = nil
	return err
}
