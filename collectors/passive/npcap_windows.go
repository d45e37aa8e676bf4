//go:build windows

package passive

import (
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/windows"
)

// This file binds the few functions of Npcap's wpcap.dll that a live
// capture needs. gopacket/pcap is not used on Windows: its package init
// loads wpcap.dll and panics when a function is missing ("Couldn't load
// function pcap_setdirection"), which kills every command of a binary that
// imports it on a host with an old WinPcap or Wine's wpcap. Here the DLL is
// loaded only when a capture is opened, and a missing DLL or function is an
// error of that capture alone.

// npcapRequired are the wpcap.dll exports OpenLive needs; a DLL without one
// of them is too old (WinPcap 4.1 lacks pcap_create and pcap_activate).
var npcapRequired = []string{
	"pcap_create", "pcap_set_snaplen", "pcap_set_promisc", "pcap_set_timeout", "pcap_set_buffer_size",
	"pcap_activate", "pcap_geterr", "pcap_datalink", "pcap_setfilter", "pcap_next_ex", "pcap_stats",
	"pcap_close", "pcap_findalldevs", "pcap_freealldevs", "pcap_lib_version",
}

// npcapLib is a loaded wpcap.dll and its exports by name.
type npcapLib struct {
	path    string // the file that was loaded
	version string // pcap_lib_version()
	procs   map[string]uintptr
}

// npcap is the loaded DLL, kept once it loaded with every export; a
// failure is not kept, so Npcap installed while the agent runs is found at
// the next capture attempt.
var npcap struct {
	mu  sync.Mutex
	lib *npcapLib
}

// loadNpcap loads wpcap.dll: Npcap's own folder (System32\Npcap) first,
// then System32 (Npcap in WinPcap-compatible mode), never the current or the
// program's directory. Its dependencies (Packet.dll) are looked for beside
// it. The error says what is missing and how to get it.
func loadNpcap(paths []string) (*npcapLib, error) {
	npcap.mu.Lock()
	defer npcap.mu.Unlock()
	if npcap.lib == nil {
		lib, err := openWpcap(paths)
		if err != nil {
			return nil, err
		}
		npcap.lib = lib
	}
	return npcap.lib, nil
}

// npcapPaths are the places wpcap.dll is loaded from, in order.
func npcapPaths() []string {
	sys, err := windows.GetSystemDirectory()
	if err != nil {
		sys = `C:\Windows\System32`
	}
	return []string{filepath.Join(sys, "Npcap", "wpcap.dll"), filepath.Join(sys, "wpcap.dll")}
}

// openWpcap loads the first of paths that loads and resolves the exports
// OpenLive needs.
func openWpcap(paths []string) (*npcapLib, error) {
	const flags = windows.LOAD_LIBRARY_SEARCH_DLL_LOAD_DIR | windows.LOAD_LIBRARY_SEARCH_SYSTEM32
	var h windows.Handle
	var path string
	var err error
	var errs []error
	for _, p := range paths {
		if h, err = windows.LoadLibraryEx(p, 0, flags); err == nil {
			path = p
			break
		}
		errs = append(errs, fmt.Errorf("%s: %w", p, err))
	}
	if h == 0 {
		return nil, fmt.Errorf("Npcap is not installed (%w): %s", errors.Join(errs...), npcapHint)
	}
	if name, err := moduleFileName(h); err == nil {
		path = name
	}
	lib := &npcapLib{path: path, procs: make(map[string]uintptr, len(npcapRequired)+1)}
	if addr, err := windows.GetProcAddress(h, "pcap_breakloop"); err == nil {
		lib.procs["pcap_breakloop"] = addr // optional: Close then wakes a blocked read at once
	}
	var missing []string
	for _, name := range npcapRequired {
		addr, err := windows.GetProcAddress(h, name)
		if err != nil {
			missing = append(missing, name)
			continue
		}
		lib.procs[name] = addr
	}
	if v, ok := lib.procs["pcap_lib_version"]; ok {
		r, _, _ := syscall.SyscallN(v)
		lib.version = cString(r)
	}
	if len(missing) > 0 {
		windows.FreeLibrary(h)
		return nil, fmt.Errorf("%s (%s) is too old or incomplete: it lacks %v: %s",
			path, orUnknown(lib.version), missing, npcapHint)
	}
	return lib, nil
}

// moduleFileName is the full path of a loaded module.
func moduleFileName(h windows.Handle) (string, error) {
	buf := make([]uint16, windows.MAX_LONG_PATH)
	n, err := windows.GetModuleFileName(h, &buf[0], uint32(len(buf)))
	if err != nil {
		return "", err
	}
	return windows.UTF16ToString(buf[:n]), nil
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown version"
	}
	return s
}

// call invokes an export that takes no pointer into Go memory (pointers
// must be converted in the argument list of syscall.SyscallN itself, so
// those calls use it directly with l.procs).
func (l *npcapLib) call(name string, args ...uintptr) uintptr {
	r, _, _ := syscall.SyscallN(l.procs[name], args...)
	return r
}

// cString copies a NUL-terminated C string owned by the DLL, given as a
// function result.
func cString(p uintptr) string {
	if p == 0 {
		return ""
	}
	return windows.BytePtrToString(*(**byte)(unsafe.Pointer(&p)))
}

// pcapErrbufSize is PCAP_ERRBUF_SIZE.
const pcapErrbufSize = 256

// libpcap status codes that OpenLive explains.
const (
	pcapErrorNoSuchDevice = -5
	pcapErrorPermDenied   = -8
	pcapErrorIfaceNotUp   = -9
)

// pcapHandle is an open pcap_t.
type pcapHandle struct {
	lib *npcapLib
	p   uintptr
}

// pcapCreate is pcap_create(device).
func (l *npcapLib) pcapCreate(device string) (*pcapHandle, error) {
	dev, err := windows.BytePtrFromString(device)
	if err != nil {
		return nil, err
	}
	errbuf := make([]byte, pcapErrbufSize)
	p, _, _ := syscall.SyscallN(l.procs["pcap_create"], uintptr(unsafe.Pointer(dev)), uintptr(unsafe.Pointer(&errbuf[0])))
	if p == 0 {
		return nil, errors.New(windows.ByteSliceToString(errbuf))
	}
	return &pcapHandle{lib: l, p: p}, nil
}

// set calls a pcap_set_* function that takes one int and returns 0 on
// success.
func (h *pcapHandle) set(name string, v int) error {
	if r := int32(h.lib.call(name, h.p, uintptr(v))); r != 0 {
		return fmt.Errorf("%s(%d): status %d", name, v, r)
	}
	return nil
}

// activate is pcap_activate: status < 0 is an error (with the status so
// that OpenLive can explain the common ones), > 0 a warning.
func (h *pcapHandle) activate() (status int32, err error) {
	status = int32(h.lib.call("pcap_activate", h.p))
	if status < 0 {
		return status, errors.New(h.geterr())
	}
	return status, nil
}

// geterr is pcap_geterr.
func (h *pcapHandle) geterr() string { return cString(h.lib.call("pcap_geterr", h.p)) }

// datalink is pcap_datalink: the DLT_ value of the handle.
func (h *pcapHandle) datalink() int { return int(int32(h.lib.call("pcap_datalink", h.p))) }

// bpfInsn is struct bpf_insn.
type bpfInsn struct {
	Code   uint16
	Jt, Jf uint8
	K      uint32
}

// bpfProgram is struct bpf_program.
type bpfProgram struct {
	Len   uint32
	Insns *bpfInsn
}

// setFilter is pcap_setfilter with an already assembled program.
func (h *pcapHandle) setFilter(insns []bpfInsn) error {
	if len(insns) == 0 {
		return errors.New("empty filter program")
	}
	prog := bpfProgram{Len: uint32(len(insns)), Insns: &insns[0]}
	r, _, _ := syscall.SyscallN(h.lib.procs["pcap_setfilter"], h.p, uintptr(unsafe.Pointer(&prog)))
	if int32(r) != 0 {
		return errors.New(h.geterr())
	}
	return nil
}

// pcapPkthdr is struct pcap_pkthdr on Windows (a timeval of two 32-bit
// longs).
type pcapPkthdr struct {
	Sec, Usec   int32
	Caplen, Len uint32
}

// nextEx is pcap_next_ex: 1 with a frame, 0 on the read timeout, -1 on an
// error, -2 at the end of a file. data is owned by the DLL until the next
// call.
func (h *pcapHandle) nextEx() (hdr pcapPkthdr, data []byte, status int32) {
	var ph *pcapPkthdr
	var pd *byte
	r, _, _ := syscall.SyscallN(h.lib.procs["pcap_next_ex"], h.p, uintptr(unsafe.Pointer(&ph)), uintptr(unsafe.Pointer(&pd)))
	status = int32(r)
	if status != 1 || ph == nil || pd == nil {
		return pcapPkthdr{}, nil, status
	}
	hdr = *ph
	return hdr, unsafe.Slice(pd, hdr.Caplen), 1
}

// stats is pcap_stats: received, dropped by the driver, dropped by the
// interface. The struct is larger on Windows (ps_capt, ps_sent, ps_netdrop
// after the three common fields), so room for six is passed.
func (h *pcapHandle) stats() (recv, drop, ifdrop uint32, err error) {
	var st [6]uint32
	r, _, _ := syscall.SyscallN(h.lib.procs["pcap_stats"], h.p, uintptr(unsafe.Pointer(&st[0])))
	if int32(r) != 0 {
		return 0, 0, 0, errors.New(h.geterr())
	}
	return st[0], st[1], st[2], nil
}

// breakloop is pcap_breakloop: a read blocked in pcap_next_ex returns -2.
// It is safe to call from another thread while the handle is read.
func (h *pcapHandle) breakloop() {
	if p := h.lib.procs["pcap_breakloop"]; p != 0 {
		syscall.SyscallN(p, h.p)
	}
}

// close is pcap_close.
func (h *pcapHandle) close() { h.lib.call("pcap_close", h.p) }

// pcapIf is the start of struct pcap_if.
type pcapIf struct {
	Next        *pcapIf
	Name        *byte
	Description *byte
}

// findAllDevs lists Npcap's devices as name → description.
func (l *npcapLib) findAllDevs() (map[string]string, error) {
	var first *pcapIf
	errbuf := make([]byte, pcapErrbufSize)
	r, _, _ := syscall.SyscallN(l.procs["pcap_findalldevs"], uintptr(unsafe.Pointer(&first)), uintptr(unsafe.Pointer(&errbuf[0])))
	if int32(r) != 0 {
		return nil, errors.New(windows.ByteSliceToString(errbuf))
	}
	defer syscall.SyscallN(l.procs["pcap_freealldevs"], uintptr(unsafe.Pointer(first)))
	out := map[string]string{}
	for d := first; d != nil; d = d.Next {
		out[windows.BytePtrToString(d.Name)] = windows.BytePtrToString(d.Description)
	}
	return out, nil
}
