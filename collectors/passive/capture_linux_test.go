//go:build linux

package passive_test

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/edgeward/edgeward/collectors/passive"
)

// liveLoopbackName returns the name of the loopback interface ("lo").
func liveLoopbackName(t testing.TB) string {
	t.Helper()
	ifs, err := net.Interfaces()
	if err != nil {
		t.Fatalf("list interfaces: %v", err)
	}
	for _, ifi := range ifs {
		if ifi.Flags&net.FlagLoopback != 0 && ifi.Flags&net.FlagUp != 0 {
			return ifi.Name
		}
	}
	t.Skip("no loopback interface that is up")
	return ""
}

// liveOpenLoopback opens a live capture on the loopback interface, skipping the
// test when the process lacks CAP_NET_RAW.
func liveOpenLoopback(t testing.TB, opts passive.LiveOptions) passive.Source {
	t.Helper()
	src, err := passive.OpenLive(liveLoopbackName(t), opts)
	if errors.Is(err, os.ErrPermission) {
		t.Skipf("live capture needs root or CAP_NET_RAW: %v", err)
	}
	if err != nil {
		t.Fatalf("OpenLive: %v", err)
	}
	t.Cleanup(func() { _ = src.Close() })
	return src
}

// requireLiveCapture skips the test unless a live capture on "lo" can be
// opened (root or CAP_NET_RAW), for tests whose collector opens its own.
func requireLiveCapture(t testing.TB) {
	t.Helper()
	src, err := passive.OpenLive("lo", passive.LiveOptions{})
	if err != nil {
		if errors.Is(err, os.ErrPermission) {
			t.Skipf("live capture needs root or CAP_NET_RAW: %v", err)
		}
		t.Skipf("no loopback capture: %v", err)
	}
	src.Close()
}

// listen starts a TCP listener on 127.0.0.1:0 that echoes nothing and just
// reads; it returns the port.
func liveListen(t testing.TB) (net.Listener, uint16) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_, _ = io.Copy(io.Discard, c)
			}()
		}
	}()
	return ln, uint16(ln.Addr().(*net.TCPAddr).Port)
}

// tcpOf decodes the TCP layer of an Ethernet frame, or returns nil.
func liveTCPOf(p passive.Packet) *layers.TCP {
	pkt := gopacket.NewPacket(p.Data, layers.LinkType(p.LinkType), gopacket.DecodeOptions{Lazy: true, NoCopy: true})
	tcp, _ := pkt.Layer(layers.LayerTypeTCP).(*layers.TCP)
	return tcp
}

func TestOpenLiveErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		iface string
		opts  passive.LiveOptions
		want  string // substring of the error
	}{
		{"no interface name", "", passive.LiveOptions{}, "no interface name"},
		{"unknown interface", "edgeward-nope0", passive.LiveOptions{}, "interface not found"},
		{"snap length too small", "lo", passive.LiveOptions{SnapLen: 10}, "snap length 10"},
		{"negative buffer", "lo", passive.LiveOptions{BufferBytes: -1}, "buffer size -1"},
		{"poll timeout too short", "lo", passive.LiveOptions{PollTimeout: time.Microsecond}, "poll timeout"},
		{"port zero", "lo", passive.LiveOptions{Ports: []uint16{0}}, "port 0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			src, err := passive.OpenLive(tc.iface, tc.opts)
			if err == nil {
				src.Close()
				t.Fatalf("OpenLive(%q): want an error containing %q, got nil", tc.iface, tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("OpenLive(%q): want an error containing %q, got %q", tc.iface, tc.want, err)
			}
		})
	}
}

func TestOpenLiveDownInterface(t *testing.T) {
	t.Parallel()
	ifs, err := net.Interfaces()
	if err != nil {
		t.Fatalf("list interfaces: %v", err)
	}
	for _, ifi := range ifs {
		if ifi.Flags&net.FlagUp != 0 {
			continue
		}
		_, err := passive.OpenLive(ifi.Name, passive.LiveOptions{})
		if err == nil || !strings.Contains(err.Error(), "interface is down") {
			t.Fatalf("OpenLive(%q) on a down interface: want an \"interface is down\" error, got %v", ifi.Name, err)
		}
		return
	}
	t.Skip("no interface is down on this host")
}

func TestLiveReadPacketHonoursContext(t *testing.T) {
	t.Parallel()
	_, port := liveListen(t) // nobody connects: the capture stays idle
	src := liveOpenLoopback(t, passive.LiveOptions{Ports: []uint16{port}, PollTimeout: 20 * time.Millisecond})

	// Already cancelled: returns at once.
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := src.ReadPacket(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("ReadPacket with a cancelled context: want context.Canceled, got %v", err)
	}

	// Cancelled while blocked.
	ctx, cancel = context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		_, err := src.ReadPacket(ctx)
		done <- err
	}()
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("ReadPacket after cancel: want context.Canceled, got %v", err)
		}
	case <-time.After(30 * time.Second): // a hang guard, not a timing assertion
		t.Fatal("ReadPacket did not return after its context was cancelled")
	}
}

func TestLiveCloseUnblocksReadPacket(t *testing.T) {
	t.Parallel()
	_, port := liveListen(t)
	src := liveOpenLoopback(t, passive.LiveOptions{Ports: []uint16{port}, PollTimeout: 20 * time.Millisecond})
	done := make(chan error, 1)
	started := make(chan struct{})
	go func() {
		close(started)
		_, err := src.ReadPacket(context.Background())
		done <- err
	}()
	<-started
	if err := src.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("ReadPacket after Close: want net.ErrClosed, got %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("ReadPacket did not return after Close")
	}
	if err := src.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	_ = src.Stats() // safe after Close
}

func TestLiveStatsAndSnapLen(t *testing.T) {
	t.Parallel()
	_, port := liveListen(t)
	_, otherPort := liveListen(t)
	const snap = 128
	src := liveOpenLoopback(t, passive.LiveOptions{Ports: []uint16{port}, SnapLen: snap})

	// Traffic to another port must not be captured.
	other, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(int(otherPort))))
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer other.Close()
	if _, err := other.Write(make([]byte, 100)); err != nil {
		t.Fatalf("write: %v", err)
	}

	c, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(int(port))))
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer c.Close()
	const payload = 1000
	if _, err := c.Write(make([]byte, payload)); err != nil {
		t.Fatalf("write: %v", err)
	}

	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	var read uint64
	for {
		p, err := src.ReadPacket(ctx)
		if err != nil {
			t.Fatalf("ReadPacket after %d packets: %v", read, err)
		}
		read++
		if p.LinkType != passive.LinkTypeEthernet || p.Interface != liveLoopbackName(t) {
			t.Fatalf("packet: want Ethernet on %q, got %v on %q", liveLoopbackName(t), p.LinkType, p.Interface)
		}
		if p.CaptureLength != len(p.Data) || p.CaptureLength > snap || p.Length < p.CaptureLength {
			t.Fatalf("packet lengths: len(Data)=%d CaptureLength=%d Length=%d snap=%d", len(p.Data), p.CaptureLength, p.Length, snap)
		}
		tcp := liveTCPOf(p)
		if tcp == nil {
			t.Fatalf("packet %d has no TCP layer", read)
		}
		if uint16(tcp.SrcPort) != port && uint16(tcp.DstPort) != port {
			t.Fatalf("packet %d: ports %d->%d, want one of them %d", read, tcp.SrcPort, tcp.DstPort, port)
		}
		if uint16(tcp.DstPort) == port && p.Length >= 14+20+20+payload {
			// The data segment: truncated to the snap length, wire length kept.
			if p.CaptureLength != snap {
				t.Fatalf("data segment: want CaptureLength %d, got %d", snap, p.CaptureLength)
			}
			break
		}
	}
	if got := src.Stats(); got.Packets != read {
		t.Errorf("Stats().Packets: want %d, got %d (%+v)", read, got.Packets, got)
	}
}

func TestLiveOptionsAccepted(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		opts passive.LiveOptions
	}{
		{"zero options", passive.LiveOptions{}},
		{"promiscuous, small ring, short snap", passive.LiveOptions{Promiscuous: true, BufferBytes: 1, SnapLen: 64, Ports: []uint16{502}}},
		{"largest snap length", passive.LiveOptions{SnapLen: 262144, Ports: []uint16{502, 4840, 20000}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			src := liveOpenLoopback(t, tc.opts)
			if err := src.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
		})
	}
}

// TestLiveIPv6Loopback checks that IPv6 segments on the loopback interface
// pass the filter, each once.
func TestLiveIPv6Loopback(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	defer ln.Close()
	port := uint16(ln.Addr().(*net.TCPAddr).Port)
	src := liveOpenLoopback(t, passive.LiveOptions{Ports: []uint16{port}})
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			close(accepted)
			return
		}
		accepted <- c
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer c.Close()
	sc, ok := <-accepted
	if !ok {
		t.Fatal("accept failed")
	}
	defer sc.Close()
	msg := []byte("hello over IPv6")
	if _, err := c.Write(msg); err != nil {
		t.Fatalf("write: %v", err)
	}
	if _, err := io.ReadFull(sc, make([]byte, len(msg))); err != nil {
		t.Fatalf("read: %v", err)
	}
	if _, err := sc.Write(msg); err != nil { // a reply: a data segment the other way
		t.Fatalf("write reply: %v", err)
	}
	if _, err := io.ReadFull(c, make([]byte, len(msg))); err != nil {
		t.Fatalf("read reply: %v", err)
	}

	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	var data [2]int // data segments to and from the port
	for data[0] < 1 || data[1] < 1 {
		p, err := src.ReadPacket(ctx)
		if err != nil {
			t.Fatalf("ReadPacket: %v (data segments so far %v)", err, data)
		}
		pkt := gopacket.NewPacket(p.Data, layers.LinkType(p.LinkType), gopacket.Default)
		if pkt.Layer(layers.LayerTypeIPv6) == nil {
			t.Fatalf("captured a non-IPv6 frame: %v", pkt)
		}
		tcp := liveTCPOf(p)
		if tcp == nil || len(tcp.Payload) == 0 {
			continue
		}
		if uint16(tcp.DstPort) == port {
			data[0]++
		} else {
			data[1]++
		}
	}
	if data != [2]int{1, 1} {
		t.Fatalf("data segments (to, from the port): want [1 1], got %v", data)
	}
	// A duplicate copy would be the very next frame; the ring delivers it
	// within one block timeout.
	dctx, dcancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer dcancel()
	for {
		p, err := src.ReadPacket(dctx)
		if err != nil {
			break
		}
		if tcp := liveTCPOf(p); tcp != nil && len(tcp.Payload) > 0 {
			t.Fatalf("extra data segment %d->%d: the loopback copy was not dropped", tcp.SrcPort, tcp.DstPort)
		}
	}
}
