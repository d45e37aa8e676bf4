package passive

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"os"
	"time"
)

// Capture file formats (pcap: https://www.ietf.org/archive/id/draft-ietf-opsawg-pcap-04.html;
// pcapng: https://www.ietf.org/archive/id/draft-ietf-opsawg-pcapng-03.html).
const (
	magicPcapngSHB  = 0x0a0d0d0a
	magicPcapUs     = 0xa1b2c3d4
	magicPcapNs     = 0xa1b23c4d
	pcapngByteOrder = 0x1a2b3c4d

	// MaxPacketSize is the largest frame OpenFile accepts, as Wireshark
	// (WTAP_MAX_PACKET_SIZE_STANDARD); a longer captured length is an invalid
	// block.
	MaxPacketSize = 262144
	// maxBlockSize bounds a pcapng block (Wireshark's bound for the link
	// types we read is smaller); a longer one is an invalid block.
	maxBlockSize = 16 << 20
	// maxHeaderBlock bounds the section header and interface description
	// blocks, whose options are read into memory.
	maxHeaderBlock = 1 << 20
)

// pcapng block types read; others are skipped.
const (
	blockSHB = 0x0a0d0d0a
	blockIDB = 0x00000001
	blockPB  = 0x00000002 // obsolete Packet Block
	blockSPB = 0x00000003
	blockEPB = 0x00000006
)

// Sentinel errors of a capture file that cannot be read further. They are
// wrapped in a *CaptureError that tells the file and the offset.
var (
	// ErrInvalidBlock is a structural error: a block or record length that
	// cannot be (below the minimum for its type, not a multiple of 4 in
	// pcapng, beyond MaxPacketSize or the block, leading and trailing
	// lengths that differ), a bad byte-order magic, an unknown interface.
	ErrInvalidBlock = errors.New("invalid block")
	// ErrTruncated is a block or record cut by the end of the file.
	ErrTruncated = errors.New("truncated block")
)

// CaptureError reports where a capture file stops being readable: Offset
// is the byte offset of the block or record at fault (in the uncompressed
// stream for a gzip-compressed file), Err is ErrInvalidBlock or
// ErrTruncated (errors.Is works through it), and Skipped is the number of
// bytes from Offset to the end of the file, which were not read, or -1 when
// unknown (compressed files).
type CaptureError struct {
	Path    string
	Offset  int64
	Skipped int64
	Err     error
	Detail  string
}

func (e *CaptureError) Error() string {
	return fmt.Sprintf("capture \"%s\": %v at offset %d: %s", e.Path, e.Err, e.Offset, e.Detail)
}

// Unwrap returns ErrInvalidBlock or ErrTruncated.
func (e *CaptureError) Unwrap() error { return e.Err }

// ngIface is an interface of the current pcapng section.
type ngIface struct {
	link LinkType
	name string
	snap uint32
	// unitsPerSec is the timestamp resolution (10^6 by default); offset
	// is if_tsoffset in seconds.
	unitsPerSec uint64
	offset      int64
}

// fileSource reads a pcap or pcapng file with its own parser, which
// checks every length against the file's structure before it reads or
// allocates. Packet data is reused between ReadPacket calls, so reading
// allocates nothing per packet.
type fileSource struct {
	f    *os.File
	r    *bufio.Reader
	path string
	size int64 // file size; -1 for a compressed file
	off  int64 // offset of the next byte of r
	err  error // sticky error after the first failure

	ng     bool
	order  binary.ByteOrder
	nanos  bool      // pcap: nanosecond timestamps
	be     bool      // pcap: big-endian (order, read without an interface call per record)
	link   LinkType  // pcap
	ifaces []ngIface // pcapng: the current section's interfaces
	hdr    [32]byte
	buf    []byte // packet data, reused
	meta   []byte // header block bodies, reused

	packets uint64
}

// OpenFile opens a pcap or pcapng capture file (also gzip-compressed),
// recognised by its magic number whatever the file name. ReadPacket returns
// io.EOF after the last packet, and a *CaptureError (ErrTruncated or
// ErrInvalidBlock, with the offset) when the file is cut or a block's
// lengths are impossible; a packet is never read from such a block. Close
// the Source to close the file.
func OpenFile(path string) (Source, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open capture: %w", err)
	}
	size := int64(-1)
	if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
		size = st.Size()
	}
	s, err := newFileSource(f, size, path)
	if err != nil {
		f.Close()
		return nil, err
	}
	s.f = f
	return s, nil
}

// fileBuffer is the read buffer of an uncompressed capture: one packet of
// MaxPacketSize is read in place. Replay reads ahead on its own goroutine,
// so fewer, larger reads would gain nothing there.
const fileBuffer = MaxPacketSize

// newFileSource reads a capture of size bytes (-1: unknown) from r and
// checks its file header; path names it in errors.
func newFileSource(r io.Reader, size int64, path string) (*fileSource, error) {
	s := &fileSource{path: path, size: size}
	s.r = bufio.NewReaderSize(r, fileBuffer)
	head, err := s.r.Peek(4)
	if err != nil {
		return nil, fmt.Errorf("read capture header \"%s\": %w", path, errEOF(err))
	}
	if head[0] == 0x1f && head[1] == 0x8b {
		zr, err := gzip.NewReader(s.r)
		if err != nil {
			return nil, fmt.Errorf("read capture header \"%s\": %w", path, err)
		}
		s.r, s.size = bufio.NewReaderSize(zr, 1<<20), -1
		if head, err = s.r.Peek(4); err != nil {
			return nil, fmt.Errorf("read capture header \"%s\": %w", path, errEOF(err))
		}
	}
	be, le := binary.BigEndian.Uint32(head), binary.LittleEndian.Uint32(head)
	switch {
	case be == magicPcapngSHB:
		s.ng = true
		// The first block must be a section header.
		if err := s.nextNg(true); err != nil {
			return nil, err
		}
	case be == magicPcapUs || be == magicPcapNs:
		s.order, s.nanos, s.be = binary.BigEndian, be == magicPcapNs, true
		err = s.pcapHeader()
	case le == magicPcapUs || le == magicPcapNs:
		s.order, s.nanos = binary.LittleEndian, le == magicPcapNs
		err = s.pcapHeader()
	default:
		return nil, fmt.Errorf("open capture \"%s\": %w (magic %x)", path, ErrUnknownFormat, head)
	}
	if err != nil {
		return nil, err
	}
	return s, nil
}

// errEOF turns an end of file inside a header into io.ErrUnexpectedEOF.
func errEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// pcapHeader reads the 24-byte pcap file header.
func (s *fileSource) pcapHeader() error {
	h := s.hdr[:24]
	if n, err := io.ReadFull(s.r, h); err != nil {
		return s.ioError(err, 0, "pcap file header: %d of 24 bytes", n)
	}
	s.off = 24
	if major := s.order.Uint16(h[4:6]); major != 2 {
		return s.fail(ErrInvalidBlock, 0, "pcap version %d.%d, want 2.x", major, s.order.Uint16(h[6:8]))
	}
	// The top bits of the link type field hold the FCS length.
	s.link = LinkType(s.order.Uint32(h[20:24]) & 0xffff)
	return nil
}

// fail records and returns a *CaptureError for the block at off.
func (s *fileSource) fail(kind error, off int64, format string, a ...any) error {
	skipped := int64(-1)
	if s.size >= 0 {
		skipped = max(s.size-off, 0)
	}
	s.err = &CaptureError{Path: s.path, Offset: off, Skipped: skipped, Err: kind, Detail: fmt.Sprintf(format, a...)}
	return s.err
}

// read fills b from the file; an end of file within b is a truncation of
// the block at off.
func (s *fileSource) read(b []byte, off int64, what string) error {
	n, err := io.ReadFull(s.r, b)
	s.off += int64(n)
	if err != nil {
		return s.ioError(err, off, "%s: %d more bytes needed, %d present", what, len(b), n)
	}
	return nil
}

// ioError turns an end of file inside the block at off into ErrTruncated
// and records any other read error.
func (s *fileSource) ioError(err error, off int64, format string, a ...any) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return s.fail(ErrTruncated, off, format, a...)
	}
	s.err = fmt.Errorf("read capture \"%s\" at offset %d: %w", s.path, s.off, err)
	return s.err
}

// skip discards n bytes of the block at off.
func (s *fileSource) skip(n int64, off int64, what string) error {
	for n > 0 {
		k, err := s.r.Discard(int(min(n, 1<<30)))
		s.off += int64(k)
		n -= int64(k)
		if err != nil {
			return s.ioError(err, off, "%s: %d more bytes needed", what, n)
		}
	}
	return nil
}

// ReadPacket returns the next packet of the file. ctx is not consulted:
// reading a file does not block.
func (s *fileSource) ReadPacket(_ context.Context) (Packet, error) {
	if s.err != nil {
		return Packet{}, s.err
	}
	var p Packet
	var err error
	if s.ng {
		p, err = s.readNg()
	} else {
		err = s.readPcap(&p)
	}
	if err != nil {
		if err != io.EOF {
			s.err = err
		}
		return Packet{}, err
	}
	s.packets++
	return p, nil
}

// readPcap reads one pcap record. Header and data are read in place from
// the file buffer (Peek), not copied: Packet.Data is valid only until the
// next ReadPacket.
func (s *fileSource) readPcap(p *Packet) error {
	off := s.off
	h, err := s.r.Peek(16)
	if len(h) == 0 && err == io.EOF {
		return io.EOF
	}
	if err != nil {
		n, _ := s.r.Discard(len(h))
		s.off += int64(n)
		return s.ioError(errEOF(err), off, "record header: %d of 16 bytes", n)
	}
	caplen, origlen := s.u32(h[8:12]), s.u32(h[12:16])
	sec, frac := int64(s.u32(h[0:4])), int64(s.u32(h[4:8]))
	_, _ = s.r.Discard(16)
	s.off += 16
	switch {
	case caplen > MaxPacketSize:
		return s.fail(ErrInvalidBlock, off, "captured length %d exceeds %d", caplen, MaxPacketSize)
	case s.size >= 0 && int64(caplen) > s.size-s.off:
		return s.fail(ErrTruncated, off, "record of %d bytes, %d left in the file", caplen, s.size-s.off)
	}
	var data []byte
	if int(caplen) <= s.r.Size() {
		data, err = s.r.Peek(int(caplen))
		k, _ := s.r.Discard(len(data))
		s.off += int64(k)
	} else {
		data = s.data(int(caplen))
		var k int
		k, err = io.ReadFull(s.r, data)
		s.off += int64(k)
		data = data[:k]
	}
	if err != nil {
		return s.ioError(errEOF(err), off, "record of %d bytes: %d more bytes needed, %d present", caplen, int(caplen)-len(data), len(data))
	}
	if !s.nanos {
		frac *= 1000
	}
	*p = Packet{Data: data, Timestamp: time.Unix(sec, frac).UTC(), CaptureLength: int(caplen), Length: int(origlen),
		LinkType: s.link}
	return nil
}

// u32 reads a pcap record field in the file's byte order.
func (s *fileSource) u32(b []byte) uint32 {
	if s.be {
		return binary.BigEndian.Uint32(b)
	}
	return binary.LittleEndian.Uint32(b)
}

// data returns the packet buffer resized to n bytes (n <= MaxPacketSize).
func (s *fileSource) data(n int) []byte {
	if cap(s.buf) < n {
		s.buf = make([]byte, n, max(n, 2048, 2*cap(s.buf)))
	}
	return s.buf[:n]
}

// readNg reads pcapng blocks up to the next packet.
func (s *fileSource) readNg() (Packet, error) {
	for {
		p, ok, err := s.ngBlock(false)
		if err != nil || ok {
			return p, err
		}
	}
}

// nextNg reads the first block, which must be a section header.
func (s *fileSource) nextNg(first bool) error {
	_, _, err := s.ngBlock(first)
	return err
}

// ngBlock reads one pcapng block: a packet (ok), or a header block it
// applies, or another block it skips. first requires a section header.
func (s *fileSource) ngBlock(first bool) (p Packet, ok bool, err error) {
	off := s.off
	h := s.hdr[:12]
	n, rerr := io.ReadFull(s.r, h[:8])
	s.off += int64(n)
	if n == 0 && rerr == io.EOF && !first {
		return Packet{}, false, io.EOF
	}
	if rerr != nil {
		return Packet{}, false, s.ioError(rerr, off, "block header: %d of 8 bytes", n)
	}
	typ := binary.BigEndian.Uint32(h[0:4])
	if typ == blockSHB {
		// The byte-order magic after the length sets the section's order.
		if err := s.read(h[8:12], off, "section header"); err != nil {
			return Packet{}, false, err
		}
		switch {
		case binary.BigEndian.Uint32(h[8:12]) == pcapngByteOrder:
			s.order = binary.BigEndian
		case binary.LittleEndian.Uint32(h[8:12]) == pcapngByteOrder:
			s.order = binary.LittleEndian
		default:
			return Packet{}, false, s.fail(ErrInvalidBlock, off, "section header byte-order magic %x", h[8:12])
		}
	} else if first {
		return Packet{}, false, s.fail(ErrInvalidBlock, off, "first block of type %#x is not a section header", typ)
	} else {
		typ = s.order.Uint32(h[0:4])
	}
	total := s.order.Uint32(h[4:8])
	switch minLen := minBlockLen(typ); {
	case total < minLen:
		return Packet{}, false, s.fail(ErrInvalidBlock, off, "block type %#x of length %d, below its minimum of %d", typ, total, minLen)
	case total%4 != 0:
		return Packet{}, false, s.fail(ErrInvalidBlock, off, "block length %d is not a multiple of 4", total)
	case total > maxBlockSize:
		return Packet{}, false, s.fail(ErrInvalidBlock, off, "block length %d exceeds %d", total, maxBlockSize)
	case s.size >= 0 && int64(total) > s.size-off:
		return Packet{}, false, s.fail(ErrTruncated, off, "block of %d bytes, %d left in the file", total, s.size-off)
	}
	read := int64(8) // bytes of the block consumed so far
	if typ == blockSHB {
		read = 12
	}
	body := int64(total) - read - 4 // up to the trailing length
	switch typ {
	case blockSHB, blockIDB:
		if total > maxHeaderBlock {
			return Packet{}, false, s.fail(ErrInvalidBlock, off, "header block of %d bytes exceeds %d", total, maxHeaderBlock)
		}
		if cap(s.meta) < int(body) {
			s.meta = make([]byte, body)
		}
		b := s.meta[:body]
		if err := s.read(b, off, "header block"); err != nil {
			return Packet{}, false, err
		}
		if typ == blockSHB {
			err = s.sectionHeader(b, off)
		} else {
			err = s.interfaceDescription(b, off)
		}
		if err != nil {
			return Packet{}, false, err
		}
	case blockEPB, blockPB, blockSPB:
		var k int64
		p, k, err = s.ngPacket(typ, total, off)
		if err != nil {
			return Packet{}, false, err
		}
		if err := s.skip(body-k, off, "packet block"); err != nil {
			return Packet{}, false, err
		}
		ok = true
	default:
		if err := s.skip(body, off, fmt.Sprintf("block type %#x", typ)); err != nil {
			return Packet{}, false, err
		}
	}
	if err := s.read(h[8:12], off, "trailing block length"); err != nil {
		return Packet{}, false, err
	}
	if t := s.order.Uint32(h[8:12]); t != total {
		return Packet{}, false, s.fail(ErrInvalidBlock, off, "trailing block length %d differs from the leading %d", t, total)
	}
	return p, ok, nil
}

// minBlockLen is the least total length of a pcapng block of type typ.
func minBlockLen(typ uint32) uint32 {
	switch typ {
	case blockSHB:
		return 28
	case blockIDB:
		return 20
	case blockSPB:
		return 16
	case blockEPB, blockPB:
		return 32
	}
	return 12
}

// sectionHeader applies a section header's body (after the byte-order
// magic): version 1.x; the interfaces of the previous section are
// forgotten.
func (s *fileSource) sectionHeader(b []byte, off int64) error {
	if major := s.order.Uint16(b[0:2]); major != 1 {
		return s.fail(ErrInvalidBlock, off, "pcapng version %d.%d, want 1.x", major, s.order.Uint16(b[2:4]))
	}
	s.ifaces = s.ifaces[:0]
	return s.options(b[12:], off, nil)
}

// interfaceDescription adds an interface from an IDB body.
func (s *fileSource) interfaceDescription(b []byte, off int64) error {
	ifc := ngIface{link: LinkType(s.order.Uint16(b[0:2])), snap: s.order.Uint32(b[4:8]), unitsPerSec: 1e6}
	err := s.options(b[8:], off, func(code uint16, v []byte) error {
		switch code {
		case 2: // if_name
			ifc.name = string(v)
		case 9: // if_tsresol
			if len(v) < 1 {
				return fmt.Errorf("if_tsresol of %d bytes", len(v))
			}
			e, base := uint64(v[0]&0x7f), uint64(10)
			if v[0]&0x80 != 0 {
				base = 2
			}
			if (base == 10 && e > 19) || (base == 2 && e > 63) {
				return fmt.Errorf("if_tsresol %#x out of range", v[0])
			}
			u := uint64(1)
			for range e {
				u *= base
			}
			ifc.unitsPerSec = u
		case 14: // if_tsoffset
			if len(v) < 8 {
				return fmt.Errorf("if_tsoffset of %d bytes", len(v))
			}
			ifc.offset = int64(s.order.Uint64(v))
		}
		return nil
	})
	if err != nil {
		return err
	}
	s.ifaces = append(s.ifaces, ifc)
	return nil
}

// options walks the options in b, calling fn (when set) with each. An
// option running past the block is an invalid block.
func (s *fileSource) options(b []byte, off int64, fn func(code uint16, v []byte) error) error {
	for len(b) >= 4 {
		code, n := s.order.Uint16(b[0:2]), int(s.order.Uint16(b[2:4]))
		if code == 0 { // opt_endofopt
			return nil
		}
		padded := (n + 3) &^ 3
		if 4+padded > len(b) {
			return s.fail(ErrInvalidBlock, off, "option %d of %d bytes runs past the block", code, n)
		}
		if fn != nil {
			if err := fn(code, b[4:4+n]); err != nil {
				return s.fail(ErrInvalidBlock, off, "%v", err)
			}
		}
		b = b[4+padded:]
	}
	return nil
}

// ngPacket reads the fixed part and the data of a packet block and returns
// how many bytes of its body it consumed.
func (s *fileSource) ngPacket(typ, total uint32, off int64) (Packet, int64, error) {
	var ifIndex, caplen, origlen uint32
	var ts uint64
	var fixed int64
	if typ == blockSPB {
		fixed = 4
		if err := s.read(s.hdr[12:16], off, "simple packet block"); err != nil {
			return Packet{}, 0, err
		}
		origlen = s.order.Uint32(s.hdr[12:16])
		caplen = min(origlen, total-16)
	} else {
		fixed = 20
		h := s.hdr[12:32]
		if err := s.read(h, off, "packet block"); err != nil {
			return Packet{}, 0, err
		}
		if typ == blockPB {
			ifIndex = uint32(s.order.Uint16(h[0:2]))
		} else {
			ifIndex = s.order.Uint32(h[0:4])
		}
		ts = uint64(s.order.Uint32(h[4:8]))<<32 | uint64(s.order.Uint32(h[8:12]))
		caplen, origlen = s.order.Uint32(h[12:16]), s.order.Uint32(h[16:20])
		if caplen > total-32 {
			return Packet{}, 0, s.fail(ErrInvalidBlock, off, "captured length %d exceeds the block's %d bytes of data", caplen, total-32)
		}
	}
	if int(ifIndex) >= len(s.ifaces) {
		return Packet{}, 0, s.fail(ErrInvalidBlock, off, "packet of interface %d, the section describes %d", ifIndex, len(s.ifaces))
	}
	ifc := &s.ifaces[ifIndex]
	if typ == blockSPB && ifc.snap != 0 {
		caplen = min(caplen, ifc.snap)
	}
	if caplen > MaxPacketSize {
		return Packet{}, 0, s.fail(ErrInvalidBlock, off, "captured length %d exceeds %d", caplen, MaxPacketSize)
	}
	data := s.data(int(caplen))
	if err := s.read(data, off, "packet"); err != nil {
		return Packet{}, 0, err
	}
	p := Packet{Data: data, CaptureLength: int(caplen), Length: int(origlen), LinkType: ifc.link, Interface: ifc.name}
	if typ != blockSPB {
		p.Timestamp = ifc.time(ts)
	}
	return p, fixed + int64(caplen), nil
}

// time converts a timestamp in the interface's units.
func (ifc *ngIface) time(ts uint64) time.Time {
	u := ifc.unitsPerSec
	sec, frac := ts/u, ts%u
	hi, lo := bits.Mul64(frac, 1e9)
	nsec, _ := bits.Div64(hi, lo, u) // frac < u, so the quotient fits
	return time.Unix(int64(sec)+ifc.offset, int64(nsec)).UTC()
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
