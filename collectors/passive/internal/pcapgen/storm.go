package pcapgen

import (
	"encoding/binary"
	"math/rand/v2"
	"net"
	"net/netip"
	"strings"
	"time"
)

// Storm describes a flow storm: Conns distinct TCP connections, each
// between its own client and its own server, half of them to a Modbus port
// (502) and half to an OPC UA port (4840), none of them closed. Every
// connection exercises one bounded table of the passive engine, in turn:
//
//   - kind 0: a real request from a new client (Modbus write single
//     register and its echo; OPC UA Hello with a long, unique endpoint URL
//     and an ACK): device, client, flow, asset and learned-writer tables,
//     events and the rate limiter (one event per client);
//   - kind 1: a request header that announces more bytes than follow (an
//     MBAP header of 254 bytes with 12 sent; an OPC UA MSG chunk of 60 KiB
//     with 1 KiB sent): partial-ADU and partial-chunk buffers held until the
//     connection ends;
//   - kind 2: random bytes both ways (malformed counts);
//   - kind 3: random bytes in order, then 1200 bytes out of order (after a
//     hole of 1000 bytes): reassembly buffers held until the gap times out.
//
// The payload bytes come from a PCG seeded with Seed, so the same Storm
// writes the same file.
type Storm struct {
	// Conns is the number of connections (default 200000).
	Conns int
	// Seed seeds the random payloads.
	Seed uint64
	// Step is the time between two frames (default 2µs: 200,000
	// connections span about 2.5 s, within the 2 s gap timeout of most of
	// their out-of-order data).
	Step time.Duration
}

// StormPorts are the server ports of a Storm's connections.
var StormPorts = [2]uint16{502, 4840}

// WriteStorm writes s to w (Ethernet link type, any snap length).
func WriteStorm(w *Writer, s Storm) error {
	if s.Conns <= 0 {
		s.Conns = 200000
	}
	if s.Step <= 0 {
		s.Step = 2 * time.Microsecond
	}
	old := w.Step
	w.Step = s.Step
	defer func() { w.Step = old }()
	rng := rand.New(rand.NewPCG(s.Seed, s.Seed^0x9e3779b97f4a7c15))
	random := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	for i := range s.Conns {
		c := w.Conn(stormEndpoint(10, i, uint16(1024+i%60000)), stormEndpoint(172, i, StormPorts[i%2]))
		if err := c.Handshake(); err != nil {
			return err
		}
		modbus := i%2 == 0
		var segs []Seg
		switch kind := (i / 2) % 4; kind {
		case 0:
			if modbus {
				req, resp := WriteSingle(uint16(i), 1, uint16(i), uint16(i>>16))
				segs = append(segs, c.Data(true, req), c.Data(false, resp))
			} else {
				url := "opc.tcp://" + c.Server.Addr.String() + "/" + strings.Repeat("x", 1000) + "/" + c.Client.Addr.String()
				segs = append(segs, c.Data(true, Hello(url)), c.Data(false, Ack()))
			}
		case 1:
			if modbus {
				hdr := ADU(uint16(i), 1, 16)
				binary.BigEndian.PutUint16(hdr[4:6], 248)
				segs = append(segs, c.Data(true, append(hdr, random(4)...)))
			} else {
				b := Chunk("MSG", 'F', random(1024))
				binary.LittleEndian.PutUint32(b[4:8], 60<<10)
				segs = append(segs, c.Data(true, b))
			}
		case 2:
			segs = append(segs, c.Data(true, random(64+rng.IntN(256))), c.Data(false, random(64+rng.IntN(128))))
		case 3:
			segs = append(segs, c.Data(true, random(32+rng.IntN(64))))
			c.ClientSeq += 1000
			segs = append(segs, c.Data(true, random(1200)))
		}
		if err := c.Write(segs...); err != nil {
			return err
		}
	}
	return nil
}

// stormEndpoint returns the i-th distinct endpoint of a storm under the
// IPv4 /8 net, with port.
func stormEndpoint(net8 byte, i int, port uint16) Endpoint {
	n := uint32(i) + 1
	ip := [4]byte{net8, byte(n >> 16), byte(n >> 8), byte(n)}
	mac := net.HardwareAddr{0x02, net8, byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}
	return Endpoint{MAC: mac, Addr: netip.AddrPortFrom(netip.AddrFrom4(ip), port)}
}
