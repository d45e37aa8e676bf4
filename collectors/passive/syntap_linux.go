//go:build linux

package passive

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// synTapSnapLen is what the SYN tap keeps of a frame: link header, two
// VLAN tags and the largest IPv4 and TCP headers fit.
const synTapSnapLen = 256

// synTap receives, on one interface, the SYN segments (SYN set, ACK clear)
// to or from the captured ports, each as soon as the kernel has it: a plain
// AF_PACKET socket without a ring, so that no block timeout delays it. The
// capture ring hands a segment over up to liveBlockTimeout (50 ms) late at
// low traffic, after a short connection's socket may be gone; the tap lets
// its owner be looked up while the connection is still open. Its filter
// passes SYNs only, so it costs one wakeup per new connection.
type synTap struct {
	f    *os.File
	link LinkType
}

// openSynTap opens the SYN tap of interface iface for the live capture
// options opts (ports, any TCP).
func openSynTap(iface string, opts LiveOptions) (*synTap, error) {
	set, err := newLiveSettings(opts)
	if err != nil {
		return nil, err
	}
	ifi, err := net.InterfaceByName(iface)
	if err != nil {
		return nil, fmt.Errorf("open SYN tap on %q: %w", iface, err)
	}
	loopback := ifi.Flags&net.FlagLoopback != 0
	link, sockType := LinkTypeEthernet, unix.SOCK_RAW
	if !loopback && len(ifi.HardwareAddr) != 6 {
		link, sockType = LinkTypeRaw, unix.SOCK_DGRAM
	}
	prog, err := buildFilter(bpfFilterSpec{
		ports: set.ports, snaplen: synTapSnapLen, link: link, anyTCP: set.anyTCP,
		dropOutgoing: loopback, synOnly: true,
	})
	if err != nil {
		return nil, fmt.Errorf("open SYN tap on %q: %w", iface, err)
	}
	// Protocol 0 receives nothing until bind, so no frame passes before
	// the filter is attached.
	fd, err := unix.Socket(unix.AF_PACKET, sockType|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open SYN tap on %q: AF_PACKET socket: %w", iface, err)
	}
	filter := make([]unix.SockFilter, len(prog))
	for i, in := range prog {
		filter[i] = unix.SockFilter{Code: in.Op, Jt: in.Jt, Jf: in.Jf, K: in.K}
	}
	if err := unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER,
		&unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("open SYN tap on %q: attach filter: %w", iface, err)
	}
	proto := uint16(unix.ETH_P_ALL)
	proto = proto<<8 | proto>>8 // network byte order
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: proto, Ifindex: ifi.Index}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("open SYN tap on %q: bind: %w", iface, err)
	}
	return &synTap{f: os.NewFile(uintptr(fd), "syn tap "+iface), link: link}, nil
}

// run hands every SYN to a.early until ctx ends or the socket fails, then
// closes the tap.
func (t *synTap) run(ctx context.Context, a *attributor) {
	stop := context.AfterFunc(ctx, func() { t.f.Close() })
	defer func() {
		if stop() {
			t.f.Close()
		}
	}()
	buf := make([]byte, synTapSnapLen)
	var s segment
	for {
		n, err := t.f.Read(buf)
		if err != nil {
			return
		}
		now := time.Now()
		if decodeFrame(t.link, buf[:n], &s) != resultTCP || s.flags&(tcpSYN|tcpACK) != tcpSYN {
			continue
		}
		src := netip.AddrPortFrom(addrFrom(s.src, s.is4), s.sport)
		dst := netip.AddrPortFrom(addrFrom(s.dst, s.is4), s.dport)
		a.early(src, dst, now)
	}
}
