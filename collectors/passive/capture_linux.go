//go:build linux

package passive

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gopacket/gopacket/afpacket"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// Ring geometry. TPACKET_V3 packs variable-sized frames into blocks; a block
// is handed to user space when it is full or when the retire timeout fires,
// so a trickle of traffic uses one block per timeout. With the default 8 MiB
// buffer (64 blocks) the reader may stall for about 3 s at low rates, and
// until 8 MiB of frames are queued at high rates, before the kernel drops.
const (
	liveFrameSize    = 4096
	liveMinBlockSize = 128 << 10
	liveBlockTimeout = 50 * time.Millisecond
)

// OpenLive starts a live capture on the named interface through an AF_PACKET
// socket with a TPACKET_V3 ring (pure Go, no libpcap). A classic BPF filter
// built by the same code as BuildFilter runs in the kernel, so only TCP
// segments to or from opts.Ports (502 and 4840 when empty), or every TCP
// segment with opts.AnyTCP, reach user space,
// truncated to opts.SnapLen. On a loopback interface the filter also drops
// the PACKET_OUTGOING copy the kernel makes of every frame, so each segment
// is seen once. Ethernet and loopback interfaces yield LinkTypeEthernet
// packets (VLAN tags stripped by the driver are put back); interfaces without
// a 6-byte hardware address (tun, ppp, wireguard) yield LinkTypeRaw packets.
//
// It needs CAP_NET_RAW (or root); the error says how to grant it. The
// interface must exist and be up. The returned Source copies each frame into
// its own buffer, so Packet.Data stays valid until the next ReadPacket even if
// Close runs concurrently. Stats is safe to call from any goroutine; Close may
// be called from another goroutine to stop a blocked ReadPacket, which then
// returns within opts.PollTimeout with an error wrapping net.ErrClosed.
//
// If the interface goes down, ReadPacket keeps waiting and the capture
// resumes when it is up again; if it is removed, ReadPacket returns an error
// wrapping syscall.ENETDOWN and the capture must be reopened.
//
// Caveats: a frame that reached the ring between binding the socket and
// attaching the filter is filtered in user space by port (the loopback
// duplicate check cannot be repeated there). Stats.IfDropped is always zero:
// AF_PACKET does not report driver drops.
func OpenLive(iface string, opts LiveOptions) (Source, error) {
	if iface == "" {
		return nil, errors.New(`open live capture: no interface name (list them with "ip link")`)
	}
	set, err := newLiveSettings(opts)
	if err != nil {
		return nil, fmt.Errorf("open live capture on %q: %w", iface, err)
	}
	ifi, err := net.InterfaceByName(iface)
	if err != nil {
		return nil, fmt.Errorf("open live capture on %q: interface not found (list them with \"ip link\"): %w", iface, err)
	}
	if ifi.Flags&net.FlagUp == 0 {
		return nil, fmt.Errorf("open live capture on %q: interface is down (bring it up with \"ip link set %s up\")", iface, iface)
	}
	loopback := ifi.Flags&net.FlagLoopback != 0
	link, sockType := LinkTypeEthernet, afpacket.SocketRaw
	if !loopback && len(ifi.HardwareAddr) != 6 {
		// No Ethernet header: take the network-layer packet instead.
		link, sockType = LinkTypeRaw, afpacket.SocketDgram
	}
	spec := bpfFilterSpec{ports: set.ports, snaplen: set.snaplen, link: link, anyTCP: set.anyTCP, dropOutgoing: loopback}
	kernelProg, err := buildFilter(spec)
	if err != nil {
		return nil, fmt.Errorf("open live capture on %q: %w", iface, err)
	}
	spec.dropOutgoing = false // the VM has no pkttype
	userInsns, err := filterInstructions(spec)
	if err != nil {
		return nil, fmt.Errorf("open live capture on %q: %w", iface, err)
	}
	early, err := bpf.NewVM(userInsns)
	if err != nil {
		return nil, fmt.Errorf("open live capture on %q: load user-space filter: %w", iface, err)
	}

	blockSize := max(liveMinBlockSize, liveRoundUp(set.snaplen+liveFrameSize, max(os.Getpagesize(), liveFrameSize)))
	numBlocks := max(2, set.bufferBytes/blockSize)
	tp, err := afpacket.NewTPacket(
		afpacket.OptInterface(iface),
		afpacket.OptTPacketVersion(afpacket.TPacketVersion3),
		afpacket.OptSocketType(sockType),
		afpacket.OptFrameSize(liveFrameSize),
		afpacket.OptBlockSize(blockSize),
		afpacket.OptNumBlocks(numBlocks),
		afpacket.OptBlockTimeout(liveBlockTimeout),
		afpacket.OptPollTimeout(set.poll),
		afpacket.OptAddVLANHeader(link == LinkTypeEthernet),
	)
	if err != nil {
		if errors.Is(err, os.ErrPermission) {
			return nil, fmt.Errorf("open AF_PACKET socket on %q: %w (run as root or grant CAP_NET_RAW: setcap cap_net_raw+ep %s)", iface, err, liveExecutablePath())
		}
		return nil, fmt.Errorf("open AF_PACKET socket on %q: %w", iface, err)
	}
	if err := tp.SetBPF(kernelProg); err != nil {
		tp.Close()
		return nil, fmt.Errorf("attach capture filter on %q: %w", iface, err)
	}
	attached := time.Now()
	if set.promisc {
		if err := tp.SetPromiscuous(true); err != nil {
			tp.Close()
			return nil, fmt.Errorf("set promiscuous mode on %q: %w", iface, err)
		}
	}
	return &liveSource{
		iface:    iface,
		ifindex:  ifi.Index,
		link:     link,
		tp:       tp,
		fd:       tpacketFD(tp),
		buf:      make([]byte, set.snaplen+8), // room for re-inserted VLAN tags
		early:    early,
		attached: attached,
	}, nil
}

// liveSource is the Linux Source: an afpacket TPACKET_V3 ring.
type liveSource struct {
	iface   string
	ifindex int
	link    LinkType

	// mu is read-locked around each ring read and each statistics call and
	// write-locked by Close, so the ring is never unmapped under a reader.
	mu sync.RWMutex
	tp *afpacket.TPacket // nil once closed
	fd int               // tp's socket, or -1 if unknown

	buf      []byte  // owned by ReadPacket: the last returned frame
	early    *bpf.VM // user-space filter for frames older than attached
	attached time.Time

	packets atomic.Uint64
	dropped atomic.Uint64
}

var _ Source = (*liveSource)(nil)

// ReadPacket blocks until a frame passes the filter or ctx is done; it checks
// ctx at least once per poll timeout.
func (s *liveSource) ReadPacket(ctx context.Context) (Packet, error) {
	for {
		if err := ctx.Err(); err != nil {
			return Packet{}, err
		}
		p, ok, err := s.readOnce()
		if err != nil || ok {
			return p, err
		}
	}
}

// readOnce waits at most one poll timeout for a frame; ok is false when none
// came or the frame was filtered out in user space.
func (s *liveSource) readOnce() (p Packet, ok bool, err error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.tp == nil {
		return Packet{}, false, fmt.Errorf("read packet on %q: %w", s.iface, net.ErrClosed)
	}
	data, ci, err := s.tp.ZeroCopyReadPacketData()
	switch {
	case err == nil:
	case errors.Is(err, afpacket.ErrTimeout), errors.Is(err, unix.EINTR):
		return Packet{}, false, nil
	case errors.Is(err, afpacket.ErrPoll):
		if err := s.socketError(); err != nil {
			return Packet{}, false, fmt.Errorf("read packet on %q: %w", s.iface, err)
		}
		return Packet{}, false, nil
	default:
		return Packet{}, false, fmt.Errorf("read packet on %q: %w", s.iface, err)
	}
	if !ci.Timestamp.After(s.attached) {
		// Possibly queued before the kernel filter was attached.
		n, err := s.early.Run(data)
		if err != nil || n == 0 {
			return Packet{}, false, nil
		}
		data = data[:min(n, len(data))]
	}
	n := copy(s.buf, data)
	s.packets.Add(1)
	return Packet{
		Data:          s.buf[:n],
		Timestamp:     ci.Timestamp,
		CaptureLength: n,
		Length:        max(ci.Length, n),
		LinkType:      s.link,
		Interface:     s.iface,
	}, true, nil
}

// socketError reads and clears the socket error behind a POLLERR, which
// would otherwise stay pending and fail every later poll. The kernel sets
// ENETDOWN when the interface goes down or is removed: nil is returned while
// it is merely down (the capture resumes when it comes back up), an error
// when it is gone or for any other cause.
func (s *liveSource) socketError() error {
	if s.fd < 0 {
		return fmt.Errorf("%w (close and reopen the capture)", afpacket.ErrPoll)
	}
	errno, err := unix.GetsockoptInt(s.fd, unix.SOL_SOCKET, unix.SO_ERROR)
	if err != nil {
		return fmt.Errorf("read socket error after poll failure: %w", err)
	}
	switch e := unix.Errno(errno); e {
	case 0:
		return nil
	case unix.ENETDOWN:
		if ifi, err := net.InterfaceByIndex(s.ifindex); err == nil && ifi.Name == s.iface {
			return nil // down, not gone
		}
		return fmt.Errorf("%w (the interface was removed: reopen the capture when it is back)", e)
	default:
		return e
	}
}

// tpacketFD returns the socket of tp, or -1. afpacket does not export it; it
// is read (never written) through reflection so that a pending socket error
// can be cleared after POLLERR. A future gopacket without the field yields
// -1, and a POLLERR then ends the capture instead.
func tpacketFD(tp *afpacket.TPacket) int {
	v := reflect.ValueOf(tp).Elem().FieldByName("fd")
	if !v.IsValid() || !v.CanInt() {
		return -1
	}
	return int(v.Int())
}

// Stats reports the frames returned so far and the kernel's drop count
// (PACKET_STATISTICS tp_drops: frames that passed the filter but found the
// ring full). It is safe for concurrent use, also after Close.
func (s *liveSource) Stats() SourceStats {
	s.mu.RLock()
	defer s.mu.RUnlock()
	s.refreshDrops()
	return SourceStats{Packets: s.packets.Load(), Dropped: s.dropped.Load()}
}

// refreshDrops reads the kernel counters; the caller holds mu.
func (s *liveSource) refreshDrops() {
	if s.tp == nil {
		return
	}
	v1, v3, err := s.tp.SocketStats()
	if err != nil {
		return
	}
	s.dropped.Store(uint64(v1.Drops()) + uint64(v3.Drops()))
}

// Close releases the socket and its ring. It waits for a concurrent
// ReadPacket to finish its current poll, and is safe to call more than once.
func (s *liveSource) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tp == nil {
		return nil
	}
	s.refreshDrops()
	s.tp.Close()
	s.tp = nil
	return nil
}

// liveRoundUp rounds n up to a multiple of m (m > 0).
func liveRoundUp(n, m int) int { return (n + m - 1) / m * m }

// liveExecutablePath names the running binary for the setcap hint.
func liveExecutablePath() string {
	if p, err := os.Executable(); err == nil {
		return p
	}
	return "/usr/bin/edgeward"
}
