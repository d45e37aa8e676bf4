//go:build linux

package passive_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	mbclient "github.com/goburrow/modbus"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	svmodbus "github.com/simonvetter/modbus"

	"github.com/edgeward/edgeward/collectors/passive"
	"github.com/edgeward/edgeward/collectors/passive/modbus"
)

// liveModbusHandler is a small in-memory Modbus device for simonvetter's
// server: 100 holding registers, 200 input registers, 64 coils and 64
// discrete inputs; anything outside is an illegal data address.
type liveModbusHandler struct {
	mu      sync.Mutex
	holding [100]uint16
	coils   [64]bool
}

func (h *liveModbusHandler) HandleCoils(req *svmodbus.CoilsRequest) ([]bool, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if int(req.Addr)+int(req.Quantity) > len(h.coils) {
		return nil, svmodbus.ErrIllegalDataAddress
	}
	if req.IsWrite {
		copy(h.coils[req.Addr:], req.Args)
		return nil, nil
	}
	return slices.Clone(h.coils[req.Addr : req.Addr+req.Quantity]), nil
}

func (h *liveModbusHandler) HandleDiscreteInputs(req *svmodbus.DiscreteInputsRequest) ([]bool, error) {
	if int(req.Addr)+int(req.Quantity) > 64 {
		return nil, svmodbus.ErrIllegalDataAddress
	}
	res := make([]bool, req.Quantity)
	for i := range res {
		res[i] = (int(req.Addr)+i)%3 == 0
	}
	return res, nil
}

func (h *liveModbusHandler) HandleHoldingRegisters(req *svmodbus.HoldingRegistersRequest) ([]uint16, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if int(req.Addr)+int(req.Quantity) > len(h.holding) {
		return nil, svmodbus.ErrIllegalDataAddress
	}
	if req.IsWrite {
		copy(h.holding[req.Addr:], req.Args)
		return nil, nil
	}
	return slices.Clone(h.holding[req.Addr : req.Addr+req.Quantity]), nil
}

func (h *liveModbusHandler) HandleInputRegisters(req *svmodbus.InputRegistersRequest) ([]uint16, error) {
	if int(req.Addr)+int(req.Quantity) > 200 {
		return nil, svmodbus.ErrIllegalDataAddress
	}
	res := make([]uint16, req.Quantity)
	for i := range res {
		res[i] = req.Addr + uint16(i)
	}
	return res, nil
}

// startModbusServer starts simonvetter's Modbus/TCP server on 127.0.0.1 and
// returns its port. The server takes a URL, not a listener, and does not
// report the port it bound, so a port is reserved on 127.0.0.1:0, released
// and handed to the server; a lost race is retried.
func startModbusServer(t *testing.T) uint16 {
	t.Helper()
	var lastErr error
	for range 5 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("listen: %v", err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		srv, err := svmodbus.NewServer(&svmodbus.ServerConfiguration{
			URL:        "tcp://127.0.0.1:" + strconv.Itoa(port),
			Timeout:    30 * time.Second,
			MaxClients: 4,
		}, &liveModbusHandler{})
		if err != nil {
			t.Fatalf("new modbus server: %v", err)
		}
		if lastErr = srv.Start(); lastErr == nil {
			t.Cleanup(func() { _ = srv.Stop() })
			return uint16(port)
		}
	}
	t.Fatalf("start modbus server: %v", lastErr)
	return 0
}

// liveTransaction is one Modbus exchange the client makes and the ADU sizes
// the Modbus/TCP specification fixes for it.
type liveTransaction struct {
	name      string
	do        func(c mbclient.Client) error
	wantErr   bool // a Modbus exception is expected
	fc        byte // request function code
	respFC    byte // response function code (fc|0x80 for an exception)
	reqBytes  int  // request ADU length (MBAP + PDU)
	respBytes int  // response ADU length
}

func liveTransactions() []liveTransaction {
	read := func(f func(c mbclient.Client) ([]byte, error)) func(c mbclient.Client) error {
		return func(c mbclient.Client) error { _, err := f(c); return err }
	}
	return []liveTransaction{
		{"read holding registers", read(func(c mbclient.Client) ([]byte, error) { return c.ReadHoldingRegisters(0, 10) }), false, 3, 3, 12, 7 + 2 + 20},
		{"read input registers", read(func(c mbclient.Client) ([]byte, error) { return c.ReadInputRegisters(100, 4) }), false, 4, 4, 12, 7 + 2 + 8},
		{"read coils", read(func(c mbclient.Client) ([]byte, error) { return c.ReadCoils(0, 16) }), false, 1, 1, 12, 7 + 2 + 2},
		{"read discrete inputs", read(func(c mbclient.Client) ([]byte, error) { return c.ReadDiscreteInputs(0, 8) }), false, 2, 2, 12, 7 + 2 + 1},
		{"write single register", read(func(c mbclient.Client) ([]byte, error) { return c.WriteSingleRegister(5, 1234) }), false, 6, 6, 12, 12},
		{"write multiple registers", read(func(c mbclient.Client) ([]byte, error) {
			return c.WriteMultipleRegisters(10, 3, []byte{0, 1, 0, 2, 0, 3})
		}), false, 16, 16, 7 + 6 + 6, 12},
		{"write single coil", read(func(c mbclient.Client) ([]byte, error) { return c.WriteSingleCoil(3, 0xff00) }), false, 5, 5, 12, 12},
		{"read past the end (exception 2)", read(func(c mbclient.Client) ([]byte, error) { return c.ReadHoldingRegisters(1000, 2) }), true, 3, 0x83, 12, 7 + 2},
	}
}

// liveSegment is what the test keeps of one captured TCP segment.
type liveSegment struct {
	toServer bool
	seq      uint32
	payload  []byte
	fin      bool
}

// TestLiveCaptureModbusLoopback runs a Modbus/TCP client (goburrow) against a
// Modbus server (simonvetter) on the loopback interface while capturing with
// OpenLive, and checks that the capture holds exactly the ADUs exchanged,
// each segment once: the loopback interface shows every frame twice
// (PACKET_OUTGOING and PACKET_HOST) unless the kernel filter drops one copy.
func TestLiveCaptureModbusLoopback(t *testing.T) {
	t.Parallel()
	port := startModbusServer(t)
	src := liveOpenLoopback(t, passive.LiveOptions{Ports: []uint16{port}, PollTimeout: 20 * time.Millisecond})

	// Capture in the background until told to stop.
	var (
		mu       sync.Mutex
		segments []liveSegment
		frames   []passive.Packet // deep copies, for the engine
		finsSeen int
	)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	bothFins := make(chan struct{})
	readErr := make(chan error, 1)
	go func() {
		for {
			p, err := src.ReadPacket(ctx)
			if err != nil {
				readErr <- err
				return
			}
			tcp := liveTCPOf(p)
			if tcp == nil {
				readErr <- fmt.Errorf("captured a frame without TCP: % x", p.Data)
				return
			}
			cp := p
			cp.Data = bytes.Clone(p.Data)
			mu.Lock()
			frames = append(frames, cp)
			seg := liveSegment{toServer: uint16(tcp.DstPort) == port, seq: tcp.Seq, fin: tcp.FIN}
			if len(tcp.Payload) > 0 || tcp.FIN {
				seg.payload = bytes.Clone(tcp.Payload)
				segments = append(segments, seg)
			}
			if tcp.FIN {
				finsSeen++
				if finsSeen == 2 {
					close(bothFins)
				}
			}
			mu.Unlock()
		}
	}()

	txs := liveTransactions()
	h := mbclient.NewTCPClientHandler(net.JoinHostPort("127.0.0.1", strconv.Itoa(int(port))))
	h.Timeout = 30 * time.Second
	h.SlaveId = 7
	if err := h.Connect(); err != nil {
		t.Fatalf("connect modbus client: %v", err)
	}
	client := mbclient.NewClient(h)
	start := time.Now()
	for _, tx := range txs {
		err := tx.do(client)
		var mbErr *mbclient.ModbusError
		switch {
		case tx.wantErr && !errors.As(err, &mbErr):
			t.Fatalf("%s: want a Modbus exception, got %v", tx.name, err)
		case !tx.wantErr && err != nil:
			t.Fatalf("%s: %v", tx.name, err)
		}
	}
	if err := h.Close(); err != nil {
		t.Fatalf("close modbus client: %v", err)
	}

	select {
	case <-bothFins:
	case err := <-readErr:
		t.Fatalf("ReadPacket: %v", err)
	case <-time.After(30 * time.Second): // a hang guard, not a timing assertion
		t.Fatal("the capture never saw both FINs")
	}
	// Drain whatever the ring still holds (a late duplicate would show here),
	// then stop the reader.
	time.Sleep(200 * time.Millisecond)
	cancel()
	if err := <-readErr; !errors.Is(err, context.Canceled) {
		t.Fatalf("ReadPacket: %v", err)
	}
	elapsed := time.Since(start)

	mu.Lock()
	defer mu.Unlock()
	st := src.Stats()
	t.Logf("captured %d frames (%d with payload or FIN) in %v; stats %+v", len(frames), len(segments), elapsed.Round(time.Millisecond), st)
	if st.Packets != uint64(len(frames)) {
		t.Errorf("Stats().Packets: want %d (frames read), got %d", len(frames), st.Packets)
	}
	if st.Dropped != 0 {
		t.Errorf("Stats().Dropped: want 0 on an idle loopback, got %d", st.Dropped)
	}

	// Each segment exactly once: no two captured segments share direction
	// and sequence number, and the byte totals equal what was exchanged.
	type key struct {
		toServer bool
		seq      uint32
	}
	seen := map[key]int{}
	var gotReq, gotResp []byte
	var dataSegments [2]int
	for _, s := range segments {
		seen[key{s.toServer, s.seq}]++
		if len(s.payload) == 0 {
			continue
		}
		if s.toServer {
			gotReq = append(gotReq, s.payload...)
			dataSegments[0]++
		} else {
			gotResp = append(gotResp, s.payload...)
			dataSegments[1]++
		}
	}
	for k, n := range seen {
		if n != 1 {
			t.Errorf("segment toServer=%v seq=%d captured %d times, want once", k.toServer, k.seq, n)
		}
	}
	var wantReqBytes, wantRespBytes int
	for _, tx := range txs {
		wantReqBytes += tx.reqBytes
		wantRespBytes += tx.respBytes
	}
	if len(gotReq) != wantReqBytes || len(gotResp) != wantRespBytes {
		t.Errorf("payload bytes: want %d to the server and %d back, got %d and %d", wantReqBytes, wantRespBytes, len(gotReq), len(gotResp))
	}
	if want := [2]int{len(txs), len(txs)}; dataSegments != want {
		t.Errorf("data segments (to server, to client): want %v, got %v", want, dataSegments)
	}

	// The captured bytes are exactly the K requests and K responses, in order.
	var wantReqs, wantResps []liveADU
	for i, tx := range txs {
		wantReqs = append(wantReqs, liveADU{uint16(i + 1), 7, tx.fc})
		wantResps = append(wantResps, liveADU{uint16(i + 1), 7, tx.respFC})
	}
	if diff := cmp.Diff(wantReqs, liveSplitADUs(t, gotReq)); diff != "" {
		t.Errorf("captured requests (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantResps, liveSplitADUs(t, gotResp)); diff != "" {
		t.Errorf("captured responses (-want +got):\n%s", diff)
	}
	for _, f := range frames {
		if f.LinkType != passive.LinkTypeEthernet {
			t.Fatalf("frame link type: want Ethernet, got %v", f.LinkType)
		}
	}

	// The engine sees exactly the K transactions in the live frames.
	cfg := passive.DefaultConfig()
	cfg.Ports.Modbus = []uint16{port}
	eng, err := passive.NewEngine(cfg, nil)
	if err != nil {
		t.Fatalf("NewEngine: %v", err)
	}
	for _, f := range frames {
		eng.Process(f)
	}
	eng.Flush(time.Time{})
	got := eng.Summary().Modbus
	t.Logf("engine: %d ADUs, %d requests, %d responses, function codes %v, exceptions %v", got.ADUs, got.Requests, got.Responses, got.FunctionCodes, got.ExceptionsByCode)
	want := &modbus.Stats{
		ADUs:             uint64(2 * len(txs)),
		Requests:         uint64(len(txs)),
		Responses:        uint64(len(txs)),
		FunctionCodes:    modbus.FunctionCodeCounts{},
		ExceptionsByCode: modbus.CodeCounts{"2": 1},
		UnitIDs:          []int{7},
		Servers:          []string{net.JoinHostPort("127.0.0.1", strconv.Itoa(int(port)))},
	}
	for _, tx := range txs {
		k := strconv.Itoa(int(tx.fc))
		rr := want.FunctionCodes[k]
		rr.Requests++
		rr.Responses++
		want.FunctionCodes[k] = rr
	}
	if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("engine Modbus summary of the live capture (-want +got):\n%s", diff)
	}
}

// liveADU is the header of one Modbus/TCP ADU.
type liveADU struct {
	TxID uint16
	Unit byte
	FC   byte
}

// liveSplitADUs splits a reassembled Modbus/TCP byte stream (trusted: the
// test produced it) into ADU headers.
func liveSplitADUs(t *testing.T, b []byte) []liveADU {
	t.Helper()
	var out []liveADU
	for len(b) > 0 {
		if len(b) < 8 {
			t.Fatalf("stream ends in a partial ADU: % x", b)
		}
		n := 6 + int(binary.BigEndian.Uint16(b[4:6]))
		if n > len(b) || binary.BigEndian.Uint16(b[2:4]) != 0 {
			t.Fatalf("bad MBAP header: % x", b[:8])
		}
		out = append(out, liveADU{binary.BigEndian.Uint16(b[0:2]), b[6], b[7]})
		b = b[n:]
	}
	return out
}

// BenchmarkLiveCaptureLoopback measures how many frames per second OpenLive
// delivers on the loopback interface while a TCP sender writes small
// segments to a filtered port as fast as it can (both the data segments and
// the receiver's ACKs are captured). It reports frames/s as "pps".
func BenchmarkLiveCaptureLoopback(b *testing.B) {
	_, port := liveListen(b)
	src := liveOpenLoopback(b, passive.LiveOptions{Ports: []uint16{port}, BufferBytes: 32 << 20})
	conn, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(int(port))))
	if err != nil {
		b.Fatalf("dial: %v", err)
	}
	ctx, cancel := context.WithCancel(b.Context())
	var wg sync.WaitGroup
	wg.Go(func() {
		msg := make([]byte, 64)
		for ctx.Err() == nil {
			if _, err := conn.Write(msg); err != nil {
				return
			}
		}
	})
	defer func() {
		cancel()
		conn.Close()
		wg.Wait()
	}()
	rctx, rcancel := context.WithTimeout(b.Context(), time.Minute)
	defer rcancel()
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	n := 0
	for b.Loop() {
		if _, err := src.ReadPacket(rctx); err != nil {
			b.Fatalf("ReadPacket: %v", err)
		}
		n++
	}
	b.ReportMetric(float64(n)/time.Since(start).Seconds(), "pps")
	b.StopTimer()
	st := src.Stats()
	b.ReportMetric(float64(st.Dropped), "dropped")
}
