package passive

import (
	"fmt"
	"slices"
	"time"

	"golang.org/x/net/bpf"
)

// Classic BPF program for live captures.
//
// The program accepts a frame when it carries TCP over IPv4 or IPv6 and its
// source or destination port is one of the configured ports, and returns the
// snap length so that the kernel (or Npcap) truncates the frame. Everything
// else returns 0 and never reaches user space.
//
// Framing understood, by link type:
//   - Ethernet: untagged, one 802.1Q/802.1ad/0x9100 tag, or two tags
//     (QinQ). On Linux most drivers strip the tag before the filter runs, so
//     the untagged branch covers that case too.
//   - BSD loopback (DLT_NULL, DLT_LOOP; the Npcap loopback adapter) and raw IP
//     (Linux SOCK_DGRAM on interfaces without a link header): the IP version
//     nibble selects IPv4 or IPv6.
//
// Deliberate limits, documented here because they decide what the engine
// sees:
//   - IPv4 fragments with a non-zero offset are rejected: they carry no TCP
//     header, so their ports are unknown, and the engine does not reassemble
//     IP fragments. The first fragment (offset 0) is judged by its ports like
//     any other packet. TCP sets DF and relies on path MTU discovery, so
//     fragmented Modbus/TCP is rare.
//   - IPv6 is accepted only when TCP is the first next header (no extension
//     headers), which is how every Modbus and OPC UA stack sends it.
//   - The IPv4 header length is taken from IHL; a bogus IHL leads to a
//     wrong port load and a reject or a spurious accept, never a fault (the
//     kernel and the VM both treat an out-of-range load as a reject).

// bpfMaxPorts bounds the port set: each port costs two comparisons and a
// classic BPF conditional jump reaches at most 255 instructions ahead.
const bpfMaxPorts = 120

// bpfDefaultSnapLen is the snap length used when zero is given.
const bpfDefaultSnapLen = 65535

// bpfMaxSnapLen is the largest snap length accepted (libpcap's maximum).
const bpfMaxSnapLen = 262144

// linuxPacketOutgoing is the kernel's PACKET_OUTGOING pkttype: a frame sent by
// this host. On the loopback interface every frame is seen twice, once as
// PACKET_OUTGOING and once as PACKET_HOST, so the outgoing copy is dropped.
const linuxPacketOutgoing = 4

// bpfFilterSpec describes the filter program to assemble.
type bpfFilterSpec struct {
	// ports is the set of TCP ports accepted as source or destination.
	ports []uint16
	// snaplen is the number of bytes kept per frame; zero means 65535.
	snaplen int
	// link is the link-layer type of the frames the program parses.
	link LinkType
	// anyTCP accepts every TCP segment over IPv4 or IPv6 whatever its
	// ports (ports are still checked but not used).
	anyTCP bool
	// dropOutgoing adds a first clause that rejects frames whose Linux
	// pkttype is PACKET_OUTGOING (ld [SKF_AD_OFF+SKF_AD_PKTTYPE]). Only the
	// Linux kernel understands it; x/net/bpf's VM does not.
	dropOutgoing bool
	// synOnly accepts only segments with SYN set and ACK clear (the first
	// segment of a connection), for local process attribution.
	synOnly bool
}

// BuildFilter assembles the classic BPF program that a live capture attaches
// to its socket for Ethernet frames: accept TCP over IPv4 or IPv6, untagged or
// with one or two VLAN tags, whose source or destination port is in ports,
// keeping at most snaplen bytes (zero means 65535); reject everything else.
// Non-first IPv4 fragments and IPv6 packets with extension headers before TCP
// are rejected. ports must hold 1 to 120 distinct non-zero ports (duplicates
// are ignored). The result is a new slice owned by the caller.
func BuildFilter(ports []uint16, snaplen int) ([]bpf.RawInstruction, error) {
	return buildFilter(bpfFilterSpec{ports: ports, snaplen: snaplen, link: LinkTypeEthernet})
}

// buildFilter assembles the program described by spec.
func buildFilter(spec bpfFilterSpec) ([]bpf.RawInstruction, error) {
	insns, err := filterInstructions(spec)
	if err != nil {
		return nil, err
	}
	raw, err := bpf.Assemble(insns)
	if err != nil {
		return nil, fmt.Errorf("assemble capture filter: %w", err)
	}
	return raw, nil
}

// filterInstructions returns the program described by spec as x/net/bpf
// instructions, before assembly.
func filterInstructions(spec bpfFilterSpec) ([]bpf.Instruction, error) {
	snaplen := spec.snaplen
	switch {
	case snaplen == 0:
		snaplen = bpfDefaultSnapLen
	case snaplen < 0 || snaplen > bpfMaxSnapLen:
		return nil, fmt.Errorf("build capture filter: snap length %d: must be 0 to %d", spec.snaplen, bpfMaxSnapLen)
	}
	ports := slices.Clone(spec.ports)
	slices.Sort(ports)
	ports = slices.Compact(ports)
	switch {
	case len(ports) == 0:
		return nil, fmt.Errorf("build capture filter: no ports")
	case ports[0] == 0:
		return nil, fmt.Errorf("build capture filter: port 0 is not a valid TCP port")
	case len(ports) > bpfMaxPorts:
		return nil, fmt.Errorf("build capture filter: %d ports: at most %d", len(ports), bpfMaxPorts)
	}

	var a bpfAsm
	if spec.dropOutgoing {
		a.emit(bpf.LoadExtension{Num: bpf.ExtType})
		a.jumpIf(bpf.JumpEqual, linuxPacketOutgoing, "drop", "")
	}
	switch spec.link {
	case LinkTypeEthernet:
		const (
			etherTypeIPv4   = 0x0800
			etherTypeIPv6   = 0x86dd
			etherTypeDot1Q  = 0x8100
			etherTypeDot1AD = 0x88a8
			etherTypeQinQ   = 0x9100
		)
		a.emit(bpf.LoadAbsolute{Off: 12, Size: 2})
		a.jumpIf(bpf.JumpEqual, etherTypeIPv4, "ip4@14", "")
		a.jumpIf(bpf.JumpEqual, etherTypeIPv6, "ip6@14", "")
		a.jumpIf(bpf.JumpEqual, etherTypeDot1Q, "vlan1", "")
		a.jumpIf(bpf.JumpEqual, etherTypeDot1AD, "vlan1", "")
		a.jumpIf(bpf.JumpEqual, etherTypeQinQ, "vlan1", "drop")
		a.label("vlan1")
		a.emit(bpf.LoadAbsolute{Off: 16, Size: 2})
		a.jumpIf(bpf.JumpEqual, etherTypeIPv4, "ip4@18", "")
		a.jumpIf(bpf.JumpEqual, etherTypeIPv6, "ip6@18", "")
		a.jumpIf(bpf.JumpEqual, etherTypeDot1Q, "vlan2", "drop")
		a.label("vlan2")
		a.emit(bpf.LoadAbsolute{Off: 20, Size: 2})
		a.jumpIf(bpf.JumpEqual, etherTypeIPv4, "ip4@22", "")
		a.jumpIf(bpf.JumpEqual, etherTypeIPv6, "ip6@22", "drop")
		for _, base := range []uint32{14, 18, 22} {
			a.ipv4(base)
			a.ipv6(base)
		}
	case LinkTypeNull, LinkTypeLoop, LinkTypeRaw:
		var base uint32 // raw IP
		if spec.link != LinkTypeRaw {
			base = 4 // 4-byte address family header
		}
		a.emit(bpf.LoadAbsolute{Off: base, Size: 1})
		a.emit(bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: 0xf0})
		a.jumpIf(bpf.JumpEqual, 0x40, fmt.Sprintf("ip4@%d", base), "")
		a.jumpIf(bpf.JumpEqual, 0x60, fmt.Sprintf("ip6@%d", base), "drop")
		a.ipv4(base)
		a.ipv6(base)
	default:
		return nil, fmt.Errorf("build capture filter: link type %v: not supported (want Ethernet, BSD loopback or raw IP)", spec.link)
	}

	// Rejects for the header checks sit before the port checks so that their
	// jumps stay short whatever the number of ports.
	a.label("drop")
	a.emit(bpf.RetConstant{Val: 0})

	// X holds the offset of the TCP header.
	a.label("tcp")
	if spec.anyTCP {
		a.acceptTCP(spec.synOnly, snaplen)
		return a.resolve()
	}
	for _, portOff := range []uint32{0, 2} { // source port, then destination port
		a.emit(bpf.LoadIndirect{Off: portOff, Size: 2})
		for _, p := range ports {
			a.jumpIf(bpf.JumpEqual, uint32(p), "accept", "")
		}
	}
	a.emit(bpf.RetConstant{Val: 0})
	a.label("accept")
	a.acceptTCP(spec.synOnly, snaplen)
	return a.resolve()
}

// acceptTCP emits the accepting return; with synOnly, only for a segment
// with SYN set and ACK clear (X holds the TCP header's offset).
func (a *bpfAsm) acceptTCP(synOnly bool, snaplen int) {
	if synOnly {
		a.emit(bpf.LoadIndirect{Off: 13, Size: 1}) // TCP flags
		a.emit(bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: tcpSYN | tcpACK})
		a.jumpIf(bpf.JumpEqual, tcpSYN, "", "notsyn")
	}
	a.emit(bpf.RetConstant{Val: uint32(snaplen)})
	if synOnly {
		a.label("notsyn")
		a.emit(bpf.RetConstant{Val: 0})
	}
}

// bpfAsm is a tiny assembler with symbolic jump targets.
type bpfAsm struct {
	insns  []bpf.Instruction
	labels map[string]int
	jumps  []bpfJump
}

// bpfJump is a jump whose targets are resolved by bpfAsm.resolve; an empty
// label means the next instruction.
type bpfJump struct {
	at          int
	cond        bpf.JumpTest
	val         uint32
	onTrue      string
	onFalse     string
	always      bool
	alwaysLabel string
}

func (a *bpfAsm) emit(in bpf.Instruction) { a.insns = append(a.insns, in) }

func (a *bpfAsm) label(name string) {
	if a.labels == nil {
		a.labels = make(map[string]int)
	}
	a.labels[name] = len(a.insns)
}

func (a *bpfAsm) jumpIf(cond bpf.JumpTest, val uint32, onTrue, onFalse string) {
	a.jumps = append(a.jumps, bpfJump{at: len(a.insns), cond: cond, val: val, onTrue: onTrue, onFalse: onFalse})
	a.emit(nil)
}

func (a *bpfAsm) jump(to string) {
	a.jumps = append(a.jumps, bpfJump{at: len(a.insns), always: true, alwaysLabel: to})
	a.emit(nil)
}

// ipProtoTCP is the IPv4 protocol / IPv6 next-header number of TCP.
const ipProtoTCP = 6

// ipv4 emits the block labelled ip4@base: TCP, not a later fragment, then X
// = base + IHL*4 and a jump to the port checks.
func (a *bpfAsm) ipv4(base uint32) {
	a.label(fmt.Sprintf("ip4@%d", base))
	a.emit(bpf.LoadAbsolute{Off: base + 9, Size: 1}) // protocol
	a.jumpIf(bpf.JumpEqual, ipProtoTCP, "", "drop")
	a.emit(bpf.LoadAbsolute{Off: base + 6, Size: 2}) // flags and fragment offset
	a.jumpIf(bpf.JumpBitsSet, 0x1fff, "drop", "")
	a.emit(bpf.LoadMemShift{Off: base}) // X = 4*(IHL)
	a.emit(bpf.TXA{})
	a.emit(bpf.ALUOpConstant{Op: bpf.ALUOpAdd, Val: base})
	a.emit(bpf.TAX{})
	a.jump("tcp")
}

// ipv6 emits the block labelled ip6@base: next header TCP, then X = base+40
// and a jump to the port checks.
func (a *bpfAsm) ipv6(base uint32) {
	a.label(fmt.Sprintf("ip6@%d", base))
	a.emit(bpf.LoadAbsolute{Off: base + 6, Size: 1}) // next header
	a.jumpIf(bpf.JumpEqual, ipProtoTCP, "", "drop")
	a.emit(bpf.LoadConstant{Dst: bpf.RegX, Val: base + 40})
	a.jump("tcp")
}

// resolve fills in every jump's relative offsets.
func (a *bpfAsm) resolve() ([]bpf.Instruction, error) {
	target := func(j bpfJump, name string) (uint32, error) {
		if name == "" {
			return 0, nil
		}
		to, ok := a.labels[name]
		if !ok {
			return 0, fmt.Errorf("build capture filter: undefined label %q", name)
		}
		skip := to - j.at - 1
		if skip < 0 {
			return 0, fmt.Errorf("build capture filter: backward jump to %q", name)
		}
		return uint32(skip), nil
	}
	for _, j := range a.jumps {
		if j.always {
			skip, err := target(j, j.alwaysLabel)
			if err != nil {
				return nil, err
			}
			a.insns[j.at] = bpf.Jump{Skip: skip}
			continue
		}
		st, err := target(j, j.onTrue)
		if err != nil {
			return nil, err
		}
		sf, err := target(j, j.onFalse)
		if err != nil {
			return nil, err
		}
		if st > 255 || sf > 255 {
			return nil, fmt.Errorf("build capture filter: jump of %d instructions: program too long", max(st, sf))
		}
		a.insns[j.at] = bpf.JumpIf{Cond: j.cond, Val: j.val, SkipTrue: uint8(st), SkipFalse: uint8(sf)}
	}
	return a.insns, nil
}

// Live capture settings shared by the Linux and Windows sources.

// liveDefaultPorts returns the ports captured when LiveOptions.Ports is
// empty: Modbus/TCP and OPC UA Binary.
func liveDefaultPorts() []uint16 { return []uint16{502, 4840} }

const (
	// liveDefaultBufferBytes is the kernel ring (Linux) or driver buffer
	// (Npcap) size used when LiveOptions.BufferBytes is zero.
	liveDefaultBufferBytes = 8 << 20
	// liveDefaultPollTimeout is how long one wait for packets lasts when
	// LiveOptions.PollTimeout is zero; it bounds how late ReadPacket notices a
	// cancelled context.
	liveDefaultPollTimeout = 100 * time.Millisecond
)

// liveSettings are LiveOptions with defaults applied and values checked.
type liveSettings struct {
	snaplen     int
	ports       []uint16
	bufferBytes int
	poll        time.Duration
	promisc     bool
	anyTCP      bool
}

// newLiveSettings applies the defaults to opts and checks them.
func newLiveSettings(opts LiveOptions) (liveSettings, error) {
	s := liveSettings{
		snaplen:     opts.SnapLen,
		ports:       opts.Ports,
		bufferBytes: opts.BufferBytes,
		poll:        opts.PollTimeout,
		promisc:     opts.Promiscuous,
		anyTCP:      opts.AnyTCP,
	}
	if s.snaplen == 0 {
		s.snaplen = bpfDefaultSnapLen
	}
	if s.snaplen < 64 || s.snaplen > bpfMaxSnapLen {
		return s, fmt.Errorf("snap length %d: must be 0 (65535) or 64 to %d", opts.SnapLen, bpfMaxSnapLen)
	}
	if len(s.ports) == 0 {
		s.ports = liveDefaultPorts()
	}
	switch {
	case s.bufferBytes == 0:
		s.bufferBytes = liveDefaultBufferBytes
	case s.bufferBytes < 0:
		return s, fmt.Errorf("buffer size %d: must not be negative", opts.BufferBytes)
	}
	switch {
	case s.poll == 0:
		s.poll = liveDefaultPollTimeout
	case s.poll < time.Millisecond:
		return s, fmt.Errorf("poll timeout %v: must be 0 (default) or at least 1ms", opts.PollTimeout)
	}
	return s, nil
}
