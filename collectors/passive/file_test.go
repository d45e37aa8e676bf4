package passive_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgeward/edgeward/collectors/passive"
)

// capBuilder writes pcap and pcapng files byte by byte, so that a test can
// give any block an impossible length.
type capBuilder struct {
	b     bytes.Buffer
	order interface {
		binary.ByteOrder
		binary.AppendByteOrder
	}
}

func (c *capBuilder) u16(v uint16) { c.b.Write(c.order.AppendUint16(nil, v)) }
func (c *capBuilder) u32(v uint32) { c.b.Write(c.order.AppendUint32(nil, v)) }

// block appends a pcapng block of type typ around body (padded to 4
// bytes); total overrides the leading length and trailer the trailing one
// when non-zero.
func (c *capBuilder) block(typ uint32, body []byte, total, trailer uint32) int {
	off := c.b.Len()
	body = append(body, make([]byte, (4-len(body)%4)%4)...)
	n := uint32(12 + len(body))
	if total == 0 {
		total = n
	}
	if trailer == 0 {
		trailer = total
	}
	c.u32(typ)
	c.u32(total)
	c.b.Write(body)
	c.u32(trailer)
	return off
}

func (c *capBuilder) shb() int {
	body := c.order.AppendUint32(nil, 0x1a2b3c4d)
	body = c.order.AppendUint16(body, 1)
	body = c.order.AppendUint16(body, 0)
	body = c.order.AppendUint64(body, ^uint64(0))
	return c.block(0x0a0d0d0a, body, 0, 0)
}

// idb appends an interface description with the given options (code,
// value pairs, values padded).
func (c *capBuilder) idb(link uint16, opts ...any) int {
	body := c.order.AppendUint16(nil, link)
	body = append(body, 0, 0)
	body = c.order.AppendUint32(body, 65535)
	for i := 0; i+1 < len(opts); i += 2 {
		v := opts[i+1].([]byte)
		body = c.order.AppendUint16(body, uint16(opts[i].(int)))
		body = c.order.AppendUint16(body, uint16(len(v)))
		body = append(body, v...)
		body = append(body, make([]byte, (4-len(v)%4)%4)...)
	}
	body = append(body, 0, 0, 0, 0)
	return c.block(1, body, 0, 0)
}

// epb appends an enhanced packet of interface ifc; caplen overrides the
// captured length when non-zero.
func (c *capBuilder) epb(ifc uint32, data []byte, caplen, total, trailer uint32) int {
	if caplen == 0 {
		caplen = uint32(len(data))
	}
	body := c.order.AppendUint32(nil, ifc)
	body = c.order.AppendUint32(body, 0)
	body = c.order.AppendUint32(body, 1_000_000)
	body = c.order.AppendUint32(body, caplen)
	body = c.order.AppendUint32(body, uint32(len(data)))
	body = append(body, data...)
	return c.block(6, body, total, trailer)
}

// pcapHeader and record write the pcap format.
func (c *capBuilder) pcapHeader() {
	c.u32(0xa1b2c3d4)
	c.u16(2)
	c.u16(4)
	c.u32(0)
	c.u32(0)
	c.u32(65535)
	c.u32(1)
}

func (c *capBuilder) record(data []byte, caplen uint32) int {
	off := c.b.Len()
	if caplen == 0 {
		caplen = uint32(len(data))
	}
	c.u32(1000)
	c.u32(5)
	c.u32(caplen)
	c.u32(uint32(len(data)))
	c.b.Write(data)
	return off
}

// frame is an Ethernet frame carrying a TCP segment to port 502.
func frame() []byte {
	f := make([]byte, 14+20+20)
	f[12], f[13] = 0x08, 0x00
	ip := f[14:]
	ip[0], ip[3], ip[8], ip[9] = 0x45, 40, 64, 6
	copy(ip[12:16], []byte{10, 0, 0, 1})
	copy(ip[16:20], []byte{10, 0, 0, 2})
	tcp := ip[20:]
	binary.BigEndian.PutUint16(tcp[0:2], 40000)
	binary.BigEndian.PutUint16(tcp[2:4], 502)
	tcp[12], tcp[13] = 5<<4, 0x02
	return f
}

// readAll reads path to its end and returns the packets read and the final
// error (nil at a clean end of file).
func readAll(t *testing.T, path string) (int, error) {
	t.Helper()
	src, err := passive.OpenFile(path)
	if err != nil {
		return 0, err
	}
	defer src.Close()
	n := 0
	for {
		p, err := src.ReadPacket(context.Background())
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		if len(p.Data) != p.CaptureLength || len(p.Data) > passive.MaxPacketSize {
			t.Fatalf("packet %d: %d bytes, capture length %d", n, len(p.Data), p.CaptureLength)
		}
		n++
	}
}

// TestCaptureStructuralErrors feeds pcapng and pcap files with impossible
// block and record lengths, bad alignment, bad trailers, unknown interfaces
// and truncations: each is reported as an invalid or truncated block at
// the offset of the block at fault, the packets before it are read, and no
// packet is decoded from it.
func TestCaptureStructuralErrors(t *testing.T) {
	t.Parallel()
	le := binary.LittleEndian
	type result struct {
		packets int
		kind    error // nil: clean end of file
		offset  int
		detail  string
	}
	cases := []struct {
		name  string
		build func(c *capBuilder) result
	}{
		{"pcapng clean", func(c *capBuilder) result {
			c.shb()
			c.idb(1, 2, []byte("eth0"), 9, []byte{6})
			c.epb(0, frame(), 0, 0, 0)
			c.block(0x0bad, []byte("skipped: unknown block type"), 0, 0)
			c.epb(0, frame(), 0, 0, 0)
			return result{packets: 2}
		}},
		{"pcapng block length 0xFFFFFFF0", func(c *capBuilder) result {
			c.shb()
			c.idb(1)
			c.epb(0, frame(), 0, 0, 0)
			off := c.epb(0, frame(), 0, 0xFFFFFFF0, 0)
			c.epb(0, frame(), 0, 0, 0)
			return result{1, passive.ErrInvalidBlock, off, "exceeds"}
		}},
		{"pcapng block length 4", func(c *capBuilder) result {
			c.shb()
			c.idb(1)
			off := c.epb(0, frame(), 0, 4, 0)
			return result{0, passive.ErrInvalidBlock, off, "below its minimum of 32"}
		}},
		{"pcapng block length 33", func(c *capBuilder) result {
			c.shb()
			c.idb(1)
			off := c.epb(0, frame(), 0, 33, 0)
			return result{0, passive.ErrInvalidBlock, off, "not a multiple of 4"}
		}},
		{"pcapng unknown block of length 8", func(c *capBuilder) result {
			c.shb()
			c.idb(1)
			c.epb(0, frame(), 0, 0, 0)
			off := c.block(0x0bad, nil, 8, 0)
			return result{1, passive.ErrInvalidBlock, off, "below its minimum of 12"}
		}},
		{"pcapng trailing length differs", func(c *capBuilder) result {
			c.shb()
			c.idb(1)
			off := c.epb(0, frame(), 0, 0, 96)
			return result{0, passive.ErrInvalidBlock, off, "trailing block length 96"}
		}},
		{"pcapng captured length beyond the block", func(c *capBuilder) result {
			c.shb()
			c.idb(1)
			off := c.epb(0, frame(), 1000, 0, 0)
			return result{0, passive.ErrInvalidBlock, off, "captured length 1000"}
		}},
		{"pcapng unknown interface", func(c *capBuilder) result {
			c.shb()
			c.idb(1)
			off := c.epb(3, frame(), 0, 0, 0)
			return result{0, passive.ErrInvalidBlock, off, "interface 3"}
		}},
		{"pcapng option past the block", func(c *capBuilder) result {
			c.shb()
			off := c.b.Len()
			body := le.AppendUint16(nil, 1)
			body = append(body, 0, 0)
			body = le.AppendUint32(body, 65535)
			body = le.AppendUint16(body, 2)
			body = le.AppendUint16(body, 200) // if_name of 200 bytes in a 28-byte block
			body = append(body, "eth0"...)
			c.block(1, body, 0, 0)
			return result{0, passive.ErrInvalidBlock, off, "runs past the block"}
		}},
		{"pcapng packet before any interface", func(c *capBuilder) result {
			c.shb()
			off := c.epb(0, frame(), 0, 0, 0)
			return result{0, passive.ErrInvalidBlock, off, "describes 0"}
		}},
		{"pcapng cut inside a packet", func(c *capBuilder) result {
			c.shb()
			c.idb(1)
			c.epb(0, frame(), 0, 0, 0)
			off := c.epb(0, frame(), 0, 0, 0)
			c.b.Truncate(off + 40)
			return result{1, passive.ErrTruncated, off, "left in the file"}
		}},
		{"pcapng cut inside a block header", func(c *capBuilder) result {
			c.shb()
			c.idb(1)
			c.epb(0, frame(), 0, 0, 0)
			off := c.b.Len()
			c.u32(6)
			return result{1, passive.ErrTruncated, off, "block header"}
		}},
		{"pcapng second section in the other byte order", func(c *capBuilder) result {
			c.shb()
			c.idb(1)
			c.epb(0, frame(), 0, 0, 0)
			c.order = binary.BigEndian
			c.shb()
			c.idb(101) // raw IP
			c.epb(0, frame()[14:], 0, 0, 0)
			return result{packets: 2}
		}},
		{"pcapng interfaces are per section", func(c *capBuilder) result {
			c.shb()
			c.idb(1)
			c.idb(1)
			c.epb(1, frame(), 0, 0, 0)
			c.shb()
			c.idb(1)
			off := c.epb(1, frame(), 0, 0, 0)
			return result{1, passive.ErrInvalidBlock, off, "describes 1"}
		}},
		{"pcap clean", func(c *capBuilder) result {
			c.pcapHeader()
			c.record(frame(), 0)
			c.record(frame(), 0)
			return result{packets: 2}
		}},
		{"pcap record length 0xFFFFFFF0", func(c *capBuilder) result {
			c.pcapHeader()
			c.record(frame(), 0)
			off := c.record(frame(), 0xFFFFFFF0)
			return result{1, passive.ErrInvalidBlock, off, "exceeds 262144"}
		}},
		{"pcap record longer than the file", func(c *capBuilder) result {
			c.pcapHeader()
			off := c.record(frame(), 5000)
			return result{0, passive.ErrTruncated, off, "left in the file"}
		}},
		{"pcap cut inside a record header", func(c *capBuilder) result {
			c.pcapHeader()
			c.record(frame(), 0)
			off := c.b.Len()
			c.u32(1000)
			return result{1, passive.ErrTruncated, off, "record header: 4 of 16"}
		}},
		{"pcap version 9", func(c *capBuilder) result {
			c.pcapHeader()
			c.b.Bytes()[4] = 9
			return result{0, passive.ErrInvalidBlock, 0, "pcap version 9"}
		}},
		{"pcapng bad byte-order magic", func(c *capBuilder) result {
			c.shb()
			c.b.Bytes()[8] = 0
			return result{0, passive.ErrInvalidBlock, 0, "byte-order magic"}
		}},
	}
	dir := t.TempDir()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := &capBuilder{order: le}
			want := tc.build(c)
			path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_"))
			for _, gz := range []bool{false, true} {
				data := c.b.Bytes()
				if gz {
					var zb bytes.Buffer
					zw := gzip.NewWriter(&zb)
					zw.Write(data)
					zw.Close()
					data = zb.Bytes()
				}
				if err := os.WriteFile(path, data, 0o600); err != nil {
					t.Fatal(err)
				}
				n, err := readAll(t, path)
				if n != want.packets {
					t.Errorf("gzip %v: %d packets read, want %d (err %v)", gz, n, want.packets, err)
				}
				if want.kind == nil {
					if err != nil {
						t.Errorf("gzip %v: %v, want a clean end", gz, err)
					}
					continue
				}
				var ce *passive.CaptureError
				if !errors.As(err, &ce) || !errors.Is(err, want.kind) {
					t.Fatalf("gzip %v: error %v, want %v", gz, err, want.kind)
				}
				if ce.Offset != int64(want.offset) || (!gz && !strings.Contains(ce.Error(), want.detail)) {
					t.Errorf("gzip %v: %q (offset %d), want offset %d and %q", gz, ce.Error(), ce.Offset, want.offset, want.detail)
				}
				if !strings.Contains(ce.Error(), want.kind.Error()+" at offset") {
					t.Errorf("message %q does not say %q at offset", ce.Error(), want.kind)
				}
				wantSkipped := int64(len(data) - want.offset)
				if gz {
					wantSkipped = -1
				}
				if ce.Skipped != wantSkipped {
					t.Errorf("gzip %v: skipped %d, want %d", gz, ce.Skipped, wantSkipped)
				}
			}
		})
	}
}

// TestPcapngTimestampResolution reads if_tsresol (10^-k and 2^-k) and
// if_tsoffset.
func TestPcapngTimestampResolution(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		opts []any
		want time.Time
	}{
		{nil, time.Unix(0, 1_000_000*1000).UTC()},                                                       // microseconds
		{[]any{9, []byte{9}}, time.Unix(0, 1_000_000).UTC()},                                            // nanoseconds
		{[]any{9, []byte{0x80 | 10}}, time.Unix(976, 562_500_000).UTC()},                                // 1/1024 s
		{[]any{9, []byte{3}, 14, binary.LittleEndian.AppendUint64(nil, 100)}, time.Unix(1100, 0).UTC()}, // ms + 100 s
	} {
		c := &capBuilder{order: binary.LittleEndian}
		c.shb()
		c.idb(1, tc.opts...)
		c.epb(0, frame(), 0, 0, 0)
		path := filepath.Join(t.TempDir(), "ts.pcapng")
		if err := os.WriteFile(path, c.b.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
		src, err := passive.OpenFile(path)
		if err != nil {
			t.Fatal(err)
		}
		p, err := src.ReadPacket(context.Background())
		src.Close()
		if err != nil {
			t.Fatal(err)
		}
		if !p.Timestamp.Equal(tc.want) || p.LinkType != passive.LinkTypeEthernet {
			t.Errorf("options %v: timestamp %v link %v, want %v", tc.opts, p.Timestamp, p.LinkType, tc.want)
		}
	}
}
