package passive

import (
	"encoding/binary"
)

// decodeResult says what decodeFrame made of a frame. Everything but
// resultTCP is counted by reason and the frame is skipped.
type decodeResult uint8

const (
	resultTCP             decodeResult = iota // a TCP segment was decoded
	resultNotIP                               // a link-layer frame that carries no IP (ARP, LLDP, ...)
	resultNotTCP                              // an IP packet that carries no TCP (UDP, ICMP, ...)
	resultUnsupportedLink                     // a link type this package does not decode
	resultShortLink                           // shorter than its link-layer header
	resultShortIP                             // shorter than its IP header
	resultBadIP                               // an IP header with a wrong version, length or option chain
	resultFragment                            // an IPv4 or IPv6 fragment (counted and skipped)
	resultShortTCP                            // shorter than its TCP header
	resultBadTCP                              // a TCP header with a data offset below 5
	numResults
)

// resultNames are the keys of EngineStats.Decode, indexed by decodeResult.
var resultNames = [numResults]string{
	resultTCP:             "tcp",
	resultNotIP:           "not_ip",
	resultNotTCP:          "not_tcp",
	resultUnsupportedLink: "unsupported_link",
	resultShortLink:       "short_link",
	resultShortIP:         "short_ip",
	resultBadIP:           "bad_ip",
	resultFragment:        "ip_fragment",
	resultShortTCP:        "short_tcp",
	resultBadTCP:          "bad_tcp",
}

// isError reports whether r counts as a decode error rather than traffic
// that is simply not of interest.
func (r decodeResult) isError() bool {
	switch r {
	case resultTCP, resultNotIP, resultNotTCP:
		return false
	}
	return true
}

// TCP flags as in the TCP header's flags byte.
const (
	tcpFIN = 0x01
	tcpSYN = 0x02
	tcpRST = 0x04
	tcpACK = 0x10
)

// maxVLANTags bounds the number of stacked 802.1Q/802.1ad tags followed.
const maxVLANTags = 4

// segment is one decoded TCP segment. Addresses are 16 bytes; IPv4 ones are
// stored IPv4-mapped. payload aliases the frame.
type segment struct {
	src, dst     [16]byte
	is4          bool
	sport, dport uint16
	seq          uint32
	flags        uint8
	payload      []byte // the captured payload
	payloadLen   int    // the payload length per the IP header (>= len(payload) when truncated)
	srcMAC       [6]byte
	hasMAC       bool
}

// decodeFrame decodes data of link type lt into s. It allocates nothing;
// s.payload aliases data.
func decodeFrame(lt LinkType, data []byte, s *segment) decodeResult {
	s.hasMAC = false
	var ethType uint16
	switch lt {
	case LinkTypeEthernet:
		if len(data) < 14 {
			return resultShortLink
		}
		copy(s.srcMAC[:], data[6:12])
		s.hasMAC = true
		ethType = binary.BigEndian.Uint16(data[12:14])
		data = data[14:]
	case LinkTypeLinuxSLL:
		if len(data) < 16 {
			return resultShortLink
		}
		if binary.BigEndian.Uint16(data[4:6]) == 6 { // link-layer address length
			copy(s.srcMAC[:], data[6:12])
			s.hasMAC = binary.BigEndian.Uint16(data[0:2]) != 4 // not "sent by us"
		}
		ethType = binary.BigEndian.Uint16(data[14:16])
		data = data[16:]
	case LinkTypeLinuxSLL2:
		if len(data) < 20 {
			return resultShortLink
		}
		if data[11] == 6 {
			copy(s.srcMAC[:], data[12:18])
			s.hasMAC = data[10] != 4
		}
		ethType = binary.BigEndian.Uint16(data[0:2])
		data = data[20:]
	case LinkTypeNull, LinkTypeLoop:
		if len(data) < 4 {
			return resultShortLink
		}
		fam := binary.LittleEndian.Uint32(data[0:4])
		if lt == LinkTypeLoop || fam > 0xffff {
			fam = binary.BigEndian.Uint32(data[0:4])
		}
		data = data[4:]
		switch fam {
		case 2:
			return decodeIPv4(data, s)
		case 10, 24, 28, 30: // AF_INET6 on Linux, NetBSD/OpenBSD, FreeBSD, Darwin
			return decodeIPv6(data, s)
		}
		return resultNotIP
	case LinkTypeRaw, 12, 14, LinkTypeIPv4, LinkTypeIPv6:
		return decodeIP(data, s)
	default:
		return resultUnsupportedLink
	}
	for i := 0; ; i++ {
		switch ethType {
		case 0x0800:
			return decodeIPv4(data, s)
		case 0x86dd:
			return decodeIPv6(data, s)
		case 0x8100, 0x88a8, 0x9100:
			if i == maxVLANTags {
				return resultNotIP
			}
			if len(data) < 4 {
				return resultShortLink
			}
			ethType = binary.BigEndian.Uint16(data[2:4])
			data = data[4:]
		default:
			return resultNotIP
		}
	}
}

// decodeIP decodes a raw IPv4 or IPv6 packet, chosen by its version nibble.
func decodeIP(data []byte, s *segment) decodeResult {
	if len(data) < 1 {
		return resultShortIP
	}
	switch data[0] >> 4 {
	case 4:
		return decodeIPv4(data, s)
	case 6:
		return decodeIPv6(data, s)
	}
	return resultBadIP
}

func decodeIPv4(data []byte, s *segment) decodeResult {
	if len(data) < 20 {
		return resultShortIP
	}
	ihl := int(data[0]&0x0f) * 4
	if data[0]>>4 != 4 || ihl < 20 {
		return resultBadIP
	}
	total := int(binary.BigEndian.Uint16(data[2:4]))
	if total < ihl {
		// TSO/LRO captures carry a zero total length; trust the capture then.
		if total != 0 {
			return resultBadIP
		}
		total = len(data)
	}
	if len(data) < ihl {
		return resultShortIP
	}
	if frag := binary.BigEndian.Uint16(data[6:8]); frag&0x3fff != 0 { // MF or an offset
		return resultFragment
	}
	if data[9] != 6 {
		return resultNotTCP
	}
	s.is4 = true
	s.src = [16]byte{10: 0xff, 11: 0xff}
	s.dst = s.src
	copy(s.src[12:], data[12:16])
	copy(s.dst[12:], data[16:20])
	wire := total - ihl
	if total < len(data) {
		data = data[:total] // drop Ethernet padding
	}
	return decodeTCP(data[ihl:], wire, s)
}

func decodeIPv6(data []byte, s *segment) decodeResult {
	if len(data) < 40 {
		return resultShortIP
	}
	if data[0]>>4 != 6 {
		return resultBadIP
	}
	plen := int(binary.BigEndian.Uint16(data[4:6]))
	next := data[6]
	s.is4 = false
	copy(s.src[:], data[8:24])
	copy(s.dst[:], data[24:40])
	data = data[40:]
	if plen == 0 { // jumbogram or TSO: trust the capture
		plen = len(data)
	}
	if plen < len(data) {
		data = data[:plen]
	}
	wire := plen
	for range 8 {
		switch next {
		case 6:
			return decodeTCP(data, wire, s)
		case 0, 43, 60: // hop-by-hop, routing, destination options
			if len(data) < 8 {
				return resultShortIP
			}
			n := (int(data[1]) + 1) * 8
			if len(data) < n {
				return resultShortIP
			}
			next = data[0]
			data, wire = data[n:], wire-n
		case 51: // authentication header
			if len(data) < 8 {
				return resultShortIP
			}
			n := (int(data[1]) + 2) * 4
			if len(data) < n {
				return resultShortIP
			}
			next = data[0]
			data, wire = data[n:], wire-n
		case 44:
			return resultFragment
		default:
			return resultNotTCP
		}
	}
	return resultBadIP
}

// decodeTCP decodes a TCP header; wire is the segment's length per the IP
// header, which exceeds len(data) when the frame was truncated.
func decodeTCP(data []byte, wire int, s *segment) decodeResult {
	if len(data) < 20 {
		return resultShortTCP
	}
	off := int(data[12]>>4) * 4
	if off < 20 {
		return resultBadTCP
	}
	if len(data) < off {
		return resultShortTCP
	}
	s.sport = binary.BigEndian.Uint16(data[0:2])
	s.dport = binary.BigEndian.Uint16(data[2:4])
	s.seq = binary.BigEndian.Uint32(data[4:8])
	s.flags = data[13]
	s.payload = data[off:]
	s.payloadLen = wire - off
	if s.payloadLen < len(s.payload) {
		s.payloadLen = len(s.payload)
	}
	return resultTCP
}
