package passive

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/edgeward/edgeward/collectors/passive/internal/pcapgen"
)

// fuzzCaptures returns a pcap and a pcapng file of one Modbus exchange.
func fuzzCaptures(t testing.TB) (pcap, ng []byte) {
	var b bytes.Buffer
	w, err := pcapgen.NewWriter(&b, layers.LinkTypeEthernet, 0)
	if err != nil {
		t.Fatal(err)
	}
	cli, srv := endpoints(false)
	c := w.Conn(cli, srv)
	req, resp := pcapgen.ReadHolding(1, 1, 0, 2)
	if err := errors.Join(c.Handshake(), c.Send(true, req), c.Send(false, resp), c.Close()); err != nil {
		t.Fatal(err)
	}
	pcap = append([]byte(nil), b.Bytes()...)
	src, err := newFileSource(bytes.NewReader(pcap), int64(len(pcap)), "seed")
	if err != nil {
		t.Fatal(err)
	}
	var nb bytes.Buffer
	nw, err := pcapgo.NewNgWriterInterface(&nb, pcapgo.NgInterface{Name: "eth0", LinkType: layers.LinkTypeEthernet, SnapLength: 65535, TimestampResolution: 9}, pcapgo.DefaultNgWriterOptions)
	if err != nil {
		t.Fatal(err)
	}
	for {
		p, err := src.ReadPacket(context.Background())
		if err != nil {
			break
		}
		if err := nw.WritePacket(gopacket.CaptureInfo{Timestamp: p.Timestamp, CaptureLength: p.CaptureLength, Length: p.Length}, p.Data); err != nil {
			t.Fatal(err)
		}
	}
	if err := nw.Flush(); err != nil {
		t.Fatal(err)
	}
	return pcap, nb.Bytes()
}

// FuzzCaptureFile reads arbitrary bytes as a capture file (the seeds are
// valid pcap and pcapng files, and the same with a block length set to
// 0xFFFFFFF0, 4 and 33) and feeds what it reads to an Engine: no panic,
// no packet longer than MaxPacketSize or than its block, and a read that
// ends in io.EOF or a *CaptureError (any error for a compressed file,
// whose decompressor has its own).
func FuzzCaptureFile(f *testing.F) {
	pcap, ng := fuzzCaptures(f)
	f.Add(pcap)
	f.Add(ng)
	// The first packet block of the pcapng file follows the section header
	// and the interface description.
	shb := int(binary.LittleEndian.Uint32(ng[4:8]))
	idb := int(binary.LittleEndian.Uint32(ng[shb+4 : shb+8]))
	for _, n := range []uint32{0xFFFFFFF0, 4, 33} {
		bad := append([]byte(nil), ng...)
		binary.LittleEndian.PutUint32(bad[shb+idb+4:], n)
		f.Add(bad)
		badPcap := append([]byte(nil), pcap...)
		binary.LittleEndian.PutUint32(badPcap[24+8:], n)
		f.Add(badPcap)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		src, err := newFileSource(bytes.NewReader(data), int64(len(data)), "fuzz")
		if err != nil {
			return
		}
		compressed := data[0] == 0x1f && data[1] == 0x8b
		e, err := NewEngine(DefaultConfig(), nil)
		if err != nil {
			t.Fatal(err)
		}
		for n := 0; ; n++ {
			p, err := src.ReadPacket(context.Background())
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				var ce *CaptureError
				if !compressed && !errors.As(err, &ce) {
					t.Fatalf("read error %v is not a CaptureError", err)
				}
				if _, again := src.ReadPacket(context.Background()); again == nil {
					t.Fatal("a packet was read after an error")
				}
				break
			}
			if len(p.Data) != p.CaptureLength || len(p.Data) > MaxPacketSize || (!compressed && len(p.Data) > len(data)) {
				t.Fatalf("packet %d: %d bytes, capture length %d, file %d bytes", n, len(p.Data), p.CaptureLength, len(data))
			}
			if !compressed && n > len(data)/16 {
				t.Fatalf("%d packets from %d bytes", n, len(data))
			}
			e.Process(p)
		}
		e.Flush(time.Time{})
		_ = e.Summary()
	})
}
