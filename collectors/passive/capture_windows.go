//go:build windows

package passive

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/windows"
)

// npcapHint tells the user how to get a working Npcap.
const npcapHint = `install or update Npcap from https://npcap.com/ (version 1.0 or later)`

// OpenLive starts a live capture on an interface through Npcap. wpcap.dll is
// loaded here, on the first capture, not when the program starts: without
// Npcap, or with an old WinPcap, every other command works and the capture
// alone fails with an error that says what is missing. iface is a friendly
// name as shown by "Get-NetAdapter" or ipconfig ("Ethernet 2"), an NPF
// device name (\Device\NPF_{GUID}), Npcap's description of the adapter, or
// "loopback" for the Npcap loopback adapter. The BPF filter from BuildFilter
// (for the adapter's link type) runs in the driver, so only TCP segments to
// or from opts.Ports (502 and 4840 when empty) are copied, truncated to
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
		return nil, fmt.Errorf("open live capture on %s: %w", quoteName(iface), err)
	}
	lib, err := loadNpcap(npcapPaths())
	if err != nil {
		return nil, fmt.Errorf("open live capture on %s: %w", quoteName(iface), err)
	}
	device, err := npcapDevice(iface, lib.findAllDevs)
	if err != nil {
		return nil, fmt.Errorf("open live capture on %s: %w", quoteName(iface), err)
	}
	h, err := lib.pcapCreate(device)
	if err != nil {
		return nil, fmt.Errorf("open live capture on %s (%s): %w", quoteName(iface), device, err)
	}
	ok := false
	defer func() {
		if !ok {
			h.close()
		}
	}()
	for _, step := range []struct {
		what string
		err  error
	}{
		{"set snap length", h.set("pcap_set_snaplen", set.snaplen)},
		{"set promiscuous mode", h.set("pcap_set_promisc", map[bool]int{true: 1}[set.promisc])},
		{"set read timeout", h.set("pcap_set_timeout", int(set.poll.Milliseconds()))},
		{"set buffer size", h.set("pcap_set_buffer_size", set.bufferBytes)},
	} {
		if step.err != nil {
			return nil, fmt.Errorf("open live capture on %s: %s: %w", quoteName(iface), step.what, step.err)
		}
	}
	if status, err := h.activate(); err != nil {
		switch status {
		case pcapErrorPermDenied:
			return nil, fmt.Errorf("open live capture on %s: %w (run as Administrator, or reinstall Npcap without \"Restrict Npcap driver's access to Administrators only\")", quoteName(iface), err)
		case pcapErrorIfaceNotUp:
			return nil, fmt.Errorf("open live capture on %s: %w (enable the adapter)", quoteName(iface), err)
		case pcapErrorNoSuchDevice:
			return nil, fmt.Errorf("open live capture on %s (%s): %w (list adapters with \"Get-NetAdapter\")", quoteName(iface), device, err)
		}
		return nil, fmt.Errorf("open live capture on %s (%s): %w", quoteName(iface), device, err)
	}
	link := dltLinkType(h.datalink())
	prog, err := buildFilter(bpfFilterSpec{ports: set.ports, snaplen: set.snaplen, link: link, anyTCP: set.anyTCP})
	if err != nil {
		return nil, fmt.Errorf("open live capture on %s: %w", quoteName(iface), err)
	}
	insns := make([]bpfInsn, len(prog))
	for i, in := range prog {
		insns[i] = bpfInsn{Code: in.Op, Jt: in.Jt, Jf: in.Jf, K: in.K}
	}
	if err := h.setFilter(insns); err != nil {
		return nil, fmt.Errorf("attach capture filter on %s: %w", quoteName(iface), err)
	}
	ok = true
	return &liveSource{
		iface: iface,
		link:  link,
		h:     h,
		buf:   make([]byte, set.snaplen),
	}, nil
}

// quoteName quotes an adapter name as the user typed it (%q would double
// the backslashes of \Device\NPF_{...}).
func quoteName(s string) string { return `"` + s + `"` }

// dltLinkType maps a DLT_ value of pcap_datalink to the link type of the
// file formats (they differ only for raw IP).
func dltLinkType(dlt int) LinkType {
	if dlt == 12 || dlt == 14 { // DLT_RAW on most systems / on OpenBSD
		return LinkTypeRaw
	}
	return LinkType(dlt)
}

// CheckInterface reports whether iface names a capture adapter of this
// host, as OpenLive would resolve it, without opening it. Adapters are
// looked up in Windows' own list first; wpcap.dll is loaded only for a name
// that is none of them (an Npcap description). The error starts with
// `no network interface "NAME"`.
func CheckInterface(iface string) error {
	_, err := npcapDevice(iface, npcapDescriptions)
	if errors.Is(err, errNoAdapter) {
		return fmt.Errorf("no network interface %s on this host (list them with \"Get-NetAdapter\")%s", quoteName(iface),
			strings.TrimPrefix(err.Error(), errNoAdapter.Error()))
	}
	return err
}

// errNoAdapter is npcapDevice's error for a name that is no adapter.
var errNoAdapter = errors.New(`no such adapter on this host (list them with "Get-NetAdapter")`)

// npcapDescriptions lists Npcap's devices (name → description).
func npcapDescriptions() (map[string]string, error) {
	lib, err := loadNpcap(npcapPaths())
	if err != nil {
		return nil, err
	}
	return lib.findAllDevs()
}

// npcapDevice maps a friendly adapter name, a GUID or an Npcap description
// (from devs, asked only when needed) to its NPF device name; "loopback" is
// Npcap's loopback adapter unless an adapter has that name.
func npcapDevice(iface string, devs func() (map[string]string, error)) (string, error) {
	if strings.HasPrefix(strings.ToLower(iface), `\device\`) {
		return iface, nil
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
	if strings.EqualFold(iface, "loopback") {
		return `\Device\NPF_Loopback`, nil
	}
	// Npcap's own descriptions ("Intel(R) Ethernet Connection ...") also work.
	all, err := devs()
	if err != nil {
		return "", fmt.Errorf("%w; Npcap's adapter descriptions not readable: %w", errNoAdapter, err)
	}
	for name, desc := range all {
		if desc == iface {
			return name, nil
		}
	}
	return "", errNoAdapter
}

// liveSource is the Windows Source: an Npcap handle.
type liveSource struct {
	iface string
	link  LinkType

	// mu is read-locked around each read and each statistics call and
	// write-locked by Close, so the handle is never freed under a reader.
	mu sync.RWMutex
	h  *pcapHandle // nil once closed

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
		return Packet{}, false, fmt.Errorf("read packet on %s: %w", quoteName(s.iface), net.ErrClosed)
	}
	hdr, data, status := s.h.nextEx()
	switch status {
	case 1:
	case 0: // the read timeout
		return Packet{}, false, nil
	case -2:
		return Packet{}, false, fmt.Errorf("read packet on %s: %w", quoteName(s.iface), net.ErrClosed)
	default:
		return Packet{}, false, fmt.Errorf("read packet on %s: %s", quoteName(s.iface), s.h.geterr())
	}
	n := copy(s.buf, data)
	s.packets.Add(1)
	return Packet{
		Data:          s.buf[:n],
		Timestamp:     time.Unix(int64(hdr.Sec), int64(hdr.Usec)*1000),
		CaptureLength: n,
		Length:        max(int(hdr.Len), n),
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
	_, drop, ifdrop, err := s.h.stats()
	if err != nil {
		return
	}
	s.dropped.Store(uint64(drop))
	s.ifDropped.Store(uint64(ifdrop))
}

// Close releases the Npcap handle; it is safe to call more than once.
func (s *liveSource) Close() error {
	s.mu.RLock()
	if s.h != nil {
		s.h.breakloop() // wake a ReadPacket blocked in the driver
	}
	s.mu.RUnlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.h == nil {
		return nil
	}
	s.refreshDrops()
	s.h.close()
	s.h = nil
	return nil
}
