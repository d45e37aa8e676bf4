package modbus

// A minimal, standard-library-only pcap/pcapng reader used by the smoke test
// against the shared captures. The passive package owns the real capture
// sources and the tshark truth comparison; this reader only feeds TCP
// payloads in capture order (retransmitted bytes dropped, holes reported
// as Gap) so that this package's counting rules can be checked on real
// traffic without importing gopacket.

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"os"
	"time"
)

type capPacket struct {
	ts   time.Time
	link uint32
	data []byte
}

func readCapture(path string) ([]capPacket, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(b) < 24 {
		return nil, errors.New("short capture")
	}
	switch binary.LittleEndian.Uint32(b) {
	case 0xa1b2c3d4, 0xa1b23c4d:
		return readPcap(b, binary.LittleEndian)
	case 0xd4c3b2a1, 0x4d3cb2a1:
		return readPcap(b, binary.BigEndian)
	case 0x0a0d0d0a:
		return readPcapng(b)
	}
	return nil, errors.New("unknown capture format")
}

func readPcap(b []byte, bo binary.ByteOrder) ([]capPacket, error) {
	nano := bo.Uint32(b) == 0xa1b23c4d
	link := bo.Uint32(b[20:]) & 0xFFFF
	var out []capPacket
	for p := 24; p+16 <= len(b); {
		sec, frac, incl := bo.Uint32(b[p:]), bo.Uint32(b[p+4:]), int(bo.Uint32(b[p+8:]))
		p += 16
		if p+incl > len(b) {
			break
		}
		ns := int64(frac) * 1000
		if nano {
			ns = int64(frac)
		}
		out = append(out, capPacket{ts: time.Unix(int64(sec), ns), link: link, data: b[p : p+incl]})
		p += incl
	}
	return out, nil
}

func readPcapng(b []byte) ([]capPacket, error) {
	var bo binary.ByteOrder = binary.LittleEndian
	var links []uint32
	var out []capPacket
	for p := 0; p+12 <= len(b); {
		typ := bo.Uint32(b[p:])
		if typ == 0x0a0d0d0a {
			if binary.LittleEndian.Uint32(b[p+8:]) == 0x1a2b3c4d {
				bo = binary.LittleEndian
			} else {
				bo = binary.BigEndian
			}
			links = links[:0]
		}
		l := int(bo.Uint32(b[p+4:]))
		if l < 12 || p+l > len(b) {
			break
		}
		body := b[p+8 : p+l-4]
		switch typ {
		case 1:
			links = append(links, uint32(bo.Uint16(body)))
		case 6:
			iface := bo.Uint32(body)
			ts := uint64(bo.Uint32(body[4:]))<<32 | uint64(bo.Uint32(body[8:]))
			incl := int(bo.Uint32(body[12:]))
			if int(iface) < len(links) && 20+incl <= len(body) {
				out = append(out, capPacket{ts: time.UnixMicro(int64(ts)), link: links[iface], data: body[20 : 20+incl]})
			}
		}
		p += l
	}
	return out, nil
}

// tcpSegment extracts the TCP segment of a frame.
func tcpSegment(link uint32, d []byte) (src, dst netip.AddrPort, seq uint32, flags uint8, payload []byte, ok bool) {
	switch link {
	case 1: // Ethernet
		if len(d) < 14 {
			return
		}
		et := binary.BigEndian.Uint16(d[12:])
		d = d[14:]
		for (et == 0x8100 || et == 0x88a8) && len(d) >= 4 {
			et = binary.BigEndian.Uint16(d[2:])
			d = d[4:]
		}
		if et != 0x0800 && et != 0x86dd {
			return
		}
	case 0, 108: // BSD null/loop
		if len(d) < 4 {
			return
		}
		d = d[4:]
	case 113: // Linux cooked v1
		if len(d) < 16 {
			return
		}
		d = d[16:]
	case 276: // Linux cooked v2
		if len(d) < 20 {
			return
		}
		d = d[20:]
	case 101, 12, 14:
	default:
		return
	}
	if len(d) < 1 {
		return
	}
	var sa, da netip.Addr
	switch d[0] >> 4 {
	case 4:
		if len(d) < 20 || d[9] != 6 {
			return
		}
		ihl := int(d[0]&0xF) * 4
		tot := int(binary.BigEndian.Uint16(d[2:]))
		if tot < len(d) && tot >= ihl {
			d = d[:tot]
		}
		sa, da = netip.AddrFrom4([4]byte(d[12:16])), netip.AddrFrom4([4]byte(d[16:20]))
		if ihl > len(d) {
			return
		}
		d = d[ihl:]
	case 6:
		if len(d) < 40 || d[6] != 6 {
			return
		}
		pl := int(binary.BigEndian.Uint16(d[4:]))
		sa, da = netip.AddrFrom16([16]byte(d[8:24])), netip.AddrFrom16([16]byte(d[24:40]))
		d = d[40:]
		if pl < len(d) {
			d = d[:pl]
		}
	default:
		return
	}
	if len(d) < 20 {
		return
	}
	off := int(d[12]>>4) * 4
	if off > len(d) {
		return
	}
	src = netip.AddrPortFrom(sa, binary.BigEndian.Uint16(d[0:]))
	dst = netip.AddrPortFrom(da, binary.BigEndian.Uint16(d[2:]))
	return src, dst, binary.BigEndian.Uint32(d[4:]), d[13], d[off:], true
}

type capFlowKey struct{ client, server netip.AddrPort }

type capFlow struct {
	s       *Session
	next    [2]uint32
	started [2]bool
}

// replayCapture feeds every TCP payload to or from port 502 to an Analyzer.
func replayCapture(a *Analyzer, pkts []capPacket) {
	flows := map[capFlowKey]*capFlow{}
	for _, p := range pkts {
		src, dst, seq, flags, payload, ok := tcpSegment(p.link, p.data)
		if !ok {
			continue
		}
		var k capFlowKey
		var toServer bool
		switch {
		case dst.Port() == 502 && src.Port() != 502:
			k, toServer = capFlowKey{src, dst}, true
		case src.Port() == 502 && dst.Port() != 502:
			k, toServer = capFlowKey{dst, src}, false
		default:
			continue
		}
		f := flows[k]
		if flags&0x02 != 0 && flags&0x10 == 0 && f != nil { // new SYN: new connection
			f.s.Close(p.ts)
			f = nil
		}
		if f == nil {
			f = &capFlow{s: a.NewSession(k.client, k.server)}
			flows[k] = f
		}
		d := dirIndex(toServer)
		if flags&0x02 != 0 {
			f.next[d], f.started[d] = seq+1, true
			continue
		}
		if len(payload) == 0 {
			continue
		}
		if !f.started[d] {
			f.next[d], f.started[d] = seq, true
		}
		diff := int32(seq - f.next[d])
		switch {
		case diff > 0:
			f.s.Gap(toServer)
		case diff < 0:
			if int(-diff) >= len(payload) {
				continue // retransmission
			}
			payload = payload[-diff:]
			seq = f.next[d]
		}
		f.next[d] = seq + uint32(len(payload))
		f.s.Feed(toServer, payload, p.ts)
	}
	for _, f := range flows {
		f.s.Close(time.Time{})
	}
}
