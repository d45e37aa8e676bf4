package passive

import (
	"bytes"
	"context"
	"errors"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"golang.org/x/sys/windows"
)

// TestNpcapMissingOrIncomplete checks the two errors of a host without a
// usable Npcap: no wpcap.dll at all, and a DLL without the functions a
// capture needs (as an old WinPcap or Wine's wpcap lacks some). A system
// DLL stands in for the incomplete one.
func TestNpcapMissingOrIncomplete(t *testing.T) {
	dir := t.TempDir()
	_, err := openWpcap([]string{filepath.Join(dir, "Npcap", "wpcap.dll"), filepath.Join(dir, "wpcap.dll")})
	if err == nil || !strings.Contains(err.Error(), "Npcap is not installed") || !strings.Contains(err.Error(), npcapHint) {
		t.Errorf("no DLL: error = %v, want it to say Npcap is not installed and how to get it", err)
	}
	sys, err := windows.GetSystemDirectory()
	if err != nil {
		t.Fatal(err)
	}
	_, err = openWpcap([]string{filepath.Join(sys, "version.dll")})
	if err == nil {
		t.Fatal("version.dll loaded as a complete wpcap.dll")
	}
	for _, want := range []string{"version.dll", "too old or incomplete", "pcap_create", "pcap_activate", npcapHint} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("incomplete DLL: error %q does not mention %q", err, want)
		}
	}
}

// TestOpenLiveNpcap captures real loopback traffic through wpcap.dll: Npcap
// on Windows, Wine's builtin wpcap.dll (which wraps the host's libpcap)
// under Wine, where the Windows lane enables it with
// WINEDLLOVERRIDES=wpcap=b. Only the filtered port is captured.
func TestOpenLiveNpcap(t *testing.T) {
	lib, err := loadNpcap(npcapPaths())
	if err != nil {
		t.Skipf("no usable wpcap.dll, so no live capture to test (the Windows lane enables Wine's builtin one with WINEDLLOVERRIDES=wpcap=b): %v", err)
	}
	t.Logf("wpcap.dll: %s, %s", lib.path, lib.version)
	devs, err := lib.findAllDevs()
	if err != nil {
		t.Fatalf("findalldevs: %v", err)
	}
	iface := "loopback" // Npcap's loopback adapter
	for _, desc := range devs {
		if desc == "lo" { // Wine lists the host's interfaces by their Linux names
			iface = desc
		}
	}

	want, other := listenLoopback(t), listenLoopback(t)
	port := uint16(want.Addr().(*net.TCPAddr).Port)
	src, err := OpenLive(iface, LiveOptions{Ports: []uint16{port}, PollTimeout: 50 * time.Millisecond})
	if err != nil {
		if strings.Contains(err.Error(), "ermission") {
			t.Skipf("capture needs Administrator rights (or root under Wine): %v", err)
		}
		t.Fatalf("OpenLive(%s): %v", iface, err)
	}
	defer src.Close()

	payload := []byte("\x00\x01\x00\x00\x00\x06\x01\x03\x00\x00\x00\x0a") // Modbus read holding registers
	for _, ln := range []net.Listener{other, want} {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Write(payload); err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	seen := false
	for !seen {
		p, err := src.ReadPacket(ctx)
		if err != nil {
			t.Fatalf("ReadPacket: %v (nothing to or from port %d seen)", err, port)
		}
		if p.CaptureLength != len(p.Data) || p.Length < p.CaptureLength || time.Since(p.Timestamp).Abs() > time.Hour {
			t.Errorf("packet header: capture %d, len(Data) %d, length %d, time %v", p.CaptureLength, len(p.Data), p.Length, p.Timestamp)
		}
		tcp, _ := gopacket.NewPacket(p.Data, layers.LinkType(p.LinkType), gopacket.Default).Layer(layers.LayerTypeTCP).(*layers.TCP)
		if tcp == nil {
			t.Fatalf("captured a frame without TCP (link type %v): % x", p.LinkType, p.Data)
		}
		if uint16(tcp.SrcPort) != port && uint16(tcp.DstPort) != port {
			t.Fatalf("filter passed port %d -> %d, want only port %d", tcp.SrcPort, tcp.DstPort, port)
		}
		seen = bytes.Equal(tcp.Payload, payload)
	}
	if st := src.Stats(); st.Packets == 0 {
		t.Errorf("Stats = %+v, want packets counted", st)
	}

	// Close from another goroutine ends a blocked read.
	done := make(chan error, 1)
	go func() {
		for { // late segments of the connections may still arrive first
			if _, err := src.ReadPacket(context.Background()); err != nil {
				done <- err
				return
			}
		}
	}()
	time.Sleep(100 * time.Millisecond)
	if err := src.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, net.ErrClosed) {
			t.Errorf("ReadPacket after Close = %v, want net.ErrClosed", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("ReadPacket did not return after Close")
	}
}

// listenLoopback accepts and drains connections on a loopback port until
// the test ends.
func listenLoopback(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 512)
				for {
					if _, err := c.Read(buf); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln
}

// TestCheckInterface resolves the host's adapters by their friendly names
// (as net.Interfaces lists them) and refuses a name that is none.
func TestCheckInterface(t *testing.T) {
	ifs, err := net.Interfaces()
	if err != nil || len(ifs) == 0 {
		t.Fatalf("net.Interfaces = %v, %v", ifs, err)
	}
	for _, ifc := range ifs {
		if err := CheckInterface(ifc.Name); err != nil {
			t.Errorf("CheckInterface(%q): %v", ifc.Name, err)
		}
	}
	err = CheckInterface("edgeward-no-such-if0")
	if err == nil || !strings.HasPrefix(err.Error(), `no network interface "edgeward-no-such-if0" on this host`) {
		t.Errorf("CheckInterface of a missing adapter = %v", err)
	}
}
