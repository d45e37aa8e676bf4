//go:build windows

package passive

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcap"
	"golang.org/x/sys/windows"
)

// npcapHint tells the user how to get a working Npcap.
const npcapHint = `install it from https://npcap.com/ with "Install Npcap in WinPcap API-compatible Mode" checked`

// OpenLive starts a live capture on an interface through Npcap. gopacket/pcap
// loads wpcap.dll at run time, so the binary needs no cgo and runs without
// Npcap until a live capture is asked for; then a missing Npcap is a clear
// error. iface is a friendly name as shown by "Get-NetAdapter" or ipconfig
// ("Ethernet 2"), an NPF device name (\Device\NPF_{GUID}), or "loopback" for
// the Npcap loopback adapter. The BPF filter from BuildFilter (for the
// adapter's link type) runs in the driver, so only TCP segments to or from
// opts.Ports (502 and 4840 when empty) are copied, truncated to
// opts.SnapLen.
//
// The returned Source copies each frame into its own buffer, so Packet.Data
// stays valid until the next ReadPacket even if Close runs concurrently.
// Stats is safe to call from any goroutine and reports Npcap's kernel and
// interface drops. ReadPacket notices a cancelled context within about twice
// opts.PollTimeout; Close may be called from another goroutine and makes
// ReadPacket return an error wrapping net.ErrClosed.
func OpenLive(iface string, opts LiveOptions) (Source, error) {
	if iface == "" {
		return nil, errors.New(`open live capture: no interface name (list them with "Get-NetAdapter")`)
	}
	set, err := newLiveSettings(opts)
	if err != nil {
		return nil, fmt.Errorf("open live capture on %q: %w", iface, err)
	}
	if err := pcap.LoadWinPCAP(); err != nil {
		return nil, fmt.Errorf("open live capture on %q: %w: Npcap is missing or too old: %s", iface, err, npcapHint)
	}
	device, err := npcapDevice(iface)
	if err != nil {
		return nil, fmt.Errorf("open live capture on %q: %w", iface, err)
	}
	inactive, err := pcap.NewInactiveHandle(device)
	if err != nil {
		return nil, fmt.Errorf("open live capture on %q (%s): %w", iface, device, err)
	}
	defer inactive.CleanUp()
	for _, step := range []struct {
		what string
		err  error
	}{
		{"set snap length", inactive.SetSnapLen(set.snaplen)},
		{"set promiscuous mode", inactive.SetPromisc(set.promisc)},
		{"set read timeout", inactive.SetTimeout(set.poll)},
		{"set buffer size", inactive.SetBufferSize(set.bufferBytes)},
	} {
		if step.err != nil {
			return nil, fmt.Errorf("open live capture on %q: %s: %w", iface, step.what, step.err)
		}
	}
	h, err := inactive.Activate()
	if err != nil {
		// gopacket's activation errors are unexported values; their text
		// is fixed ("Permission Denied", "No Such Device", "Interface Not Up").
		switch err.Error() {
		case "Permission Denied":
			return nil, fmt.Errorf("open live capture on %q: %w (run as Administrator, or reinstall Npcap without \"Restrict Npcap driver's access to Administrators only\")", iface, err)
		case "Interface Not Up":
			return nil, fmt.Errorf("open live capture on %q: %w (enable the adapter)", iface, err)
		}
		return nil, fmt.Errorf("open live capture on %q (%s): %w", iface, device, err)
	}
	link := h.LinkType()
	prog, err := buildFilter(bpfFilterSpec{ports: set.ports, snaplen: set.snaplen, link: link, anyTCP: set.anyTCP})
	if err != nil {
		h.Close()
		return nil, fmt.Errorf("open live capture on %q: %w", iface, err)
	}
	insns := make([]pcap.BPFInstruction, len(prog))
	for i, in := range prog {
		insns[i] = pcap.BPFInstruction{Code: in.Op, Jt: in.Jt, Jf: in.Jf, K: in.K}
	}
	if err := h.SetBPFInstructionFilter(insns); err != nil {
		h.Close()
		return nil, fmt.Errorf("attach capture filter on %q: %w", iface, err)
	}
	return &liveSource{
		iface: iface,
		link:  link,
		h:     h,
		buf:   make([]byte, set.snaplen),
	}, nil
}

// npcapDevice maps a friendly adapter name to its NPF device name.
func npcapDevice(iface string) (string, error) {
	if strings.HasPrefix(strings.ToLower(iface), `\device\`) {
		return iface, nil
	}
	if strings.EqualFold(iface, "loopback") || strings.EqualFold(iface, "lo") {
		return `\Device\NPF_Loopback`, nil
	}
	size := uint32(16 << 10)
	for range 3 {
		buf := make([]byte, size)
		first := (*windows.IpAdapterAddresses)(unsafe.Pointer(&buf[0]))
		err := windows.GetAdaptersAddresses(windows.AF_UNSPEC, 0, 0, first, &size)
		if errors.Is(err, windows.ERROR_BUFFER_OVERFLOW) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("list adapters: %w", err)
		}
		for aa := first; aa != nil; aa = aa.Next {
			guid := windows.BytePtrToString(aa.AdapterName)
			if windows.UTF16PtrToString(aa.FriendlyName) == iface || strings.EqualFold(guid, iface) {
				return `\Device\NPF_` + guid, nil
			}
		}
		break
	}
	// Npcap's own descriptions ("Intel(R) Ethernet Connection ...") also work.
	devs, err := pcap.FindAllDevs()
	if err != nil {
		return "", fmt.Errorf("list Npcap devices: %w", err)
	}
	for _, d := range devs {
		if d.Description == iface {
			return d.Name, nil
		}
	}
	return "", errors.New(`interface not found (list them with "Get-NetAdapter")`)
}

// liveSource is the Windows Source: an Npcap handle.
type liveSource struct {
	iface string
	link  layers.LinkType

	// mu is read-locked around each read and each statistics call and
	// write-locked by Close, so the handle is never freed under a reader.
	mu sync.RWMutex
	h  *pcap.Handle // nil once closed

	buf []byte // owned by ReadPacket: the last returned frame

	packets   atomic.Uint64
	dropped   atomic.Uint64
	ifDropped atomic.Uint64
}

var _ Source = (*liveSource)(nil)

// ReadPacket blocks until a frame passes the filter or ctx is done.
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

// readOnce waits at most about two read timeouts for a frame.
func (s *liveSource) readOnce() (Packet, bool, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.h == nil {
		return Packet{}, false, fmt.Errorf("read packet on %q: %w", s.iface, net.ErrClosed)
	}
	data, ci, err := s.h.ZeroCopyReadPacketData()
	switch {
	case err == nil:
	case errors.Is(err, pcap.NextErrorTimeoutExpired):
		return Packet{}, false, nil
	case errors.Is(err, io.EOF):
		return Packet{}, false, fmt.Errorf("read packet on %q: %w", s.iface, net.ErrClosed)
	default:
		return Packet{}, false, fmt.Errorf("read packet on %q: %w", s.iface, err)
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

// Stats reports the frames returned so far and Npcap's drop counters. It is
// safe for concurrent use, also after Close.
func (s *liveSource) Stats() SourceStats {
	s.mu.RLock()
	defer s.mu.RUnlock()
	s.refreshDrops()
	return SourceStats{Packets: s.packets.Load(), Dropped: s.dropped.Load(), IfDropped: s.ifDropped.Load()}
}

// refreshDrops reads the driver counters; the caller holds mu.
func (s *liveSource) refreshDrops() {
	if s.h == nil {
		return
	}
	st, err := s.h.Stats()
	if err != nil || st == nil {
		return
	}
	s.dropped.Store(uint64(max(st.PacketsDropped, 0)))
	s.ifDropped.Store(uint64(max(st.PacketsIfDropped, 0)))
}

// Close releases the Npcap handle; it is safe to call more than once.
func (s *liveSource) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.h == nil {
		return nil
	}
	s.refreshDrops()
	s.h.Close()
	s.h = nil
	return nil
}
