//go:build linux

package passive_test

import (
	"context"
	"io"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/edgeward/edgeward/collectors"
	"github.com/edgeward/edgeward/collectors/passive"
	"github.com/edgeward/edgeward/collectors/passive/internal/pcapgen"
)

// TestCollectorLive runs the collector on the loopback interface while a
// client polls a tiny Modbus server on 127.0.0.1:0, and waits for the
// net.flow record of that conversation.
func TestCollectorLive(t *testing.T) {
	t.Parallel()
	requireLiveCapture(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	// answer every 12-byte FC 3 request with 2 registers
	go serveModbus(ln, func(req []byte) []byte {
		_, resp := pcapgen.ReadHolding(uint16(req[0])<<8|uint16(req[1]), req[6], 0, 2)
		return resp
	})
	port := uint16(ln.Addr().(*net.TCPAddr).Port)

	cfg := passive.DefaultConfig()
	cfg.Interfaces = []string{"lo"}
	cfg.Ports.Modbus = []uint16{port}
	cfg.SummaryInterval = time.Second
	col, err := passive.New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var flows []passive.Flow
	emit := collectors.RecordFunc(func(_ context.Context, r collectors.Record) error {
		if f, ok := r.Body.(passive.Flow); ok {
			mu.Lock()
			flows = append(flows, f)
			mu.Unlock()
		}
		return nil
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- col.Run(ctx, emit) }()

	want := ln.Addr().String()
	deadline := time.Now().Add(20 * time.Second)
	var tid uint16
	for found := false; !found; {
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("no net.flow record for %s; stats %+v", want, col.Stats())
		}
		c, err := net.Dial("tcp", want)
		if err != nil {
			t.Fatal(err)
		}
		for range 3 {
			tid++
			req, _ := pcapgen.ReadHolding(tid, 1, 0, 2)
			if _, err := c.Write(req); err != nil {
				t.Fatal(err)
			}
			if _, err := io.ReadFull(c, make([]byte, 13)); err != nil {
				t.Fatal(err)
			}
		}
		c.Close()
		time.Sleep(300 * time.Millisecond)
		mu.Lock()
		for _, f := range flows {
			if f.Server == want && f.Requests > 0 && f.FunctionCodes["3"].Responses > 0 {
				found = true
			}
		}
		mu.Unlock()
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v after cancel, want nil", err)
	}
	if st := col.Stats(); st.Capture.Packets == 0 {
		t.Errorf("capture stats not reported: %+v", st.Capture)
	}
}

// TestCollectorLiveAnyTCP: with Ports.AnyTCP the live capture passes TCP on
// every port, so an OPC UA Hello to a port outside Ports.OPCUA (here a
// random one) is recognised live, as it is in a replay.
func TestCollectorLiveAnyTCP(t *testing.T) {
	t.Parallel()
	requireLiveCapture(t)
	ln, port := liveListen(t)
	cfg := passive.DefaultConfig()
	cfg.Interfaces = []string{"lo"}
	cfg.Ports.AnyTCP = true
	cfg.SummaryInterval = time.Second
	col, err := passive.New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := ln.Addr().String()
	found := make(chan struct{})
	var once sync.Once
	emit := collectors.RecordFunc(func(_ context.Context, r collectors.Record) error {
		if f, ok := r.Body.(passive.Flow); ok && f.Protocol == "opcua" && f.Server == want {
			once.Do(func() { close(found) })
		}
		return nil
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- col.Run(ctx, emit) }()

	hello := pcapgen.Chunk("HEL", 'F', (&pcapgen.UA{}).U32(0).U32(65535).U32(65535).U32(0).U32(0).
		Str("opc.tcp://127.0.0.1:"+strconv.Itoa(int(port))).B)
	deadline := time.After(20 * time.Second) // a hang guard, not a timing assertion
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for waiting := true; waiting; {
		// a new connection each round: the capture may start after the first
		c, err := net.Dial("tcp", want)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Write(hello); err != nil {
			t.Fatal(err)
		}
		c.Close()
		select {
		case <-found:
			waiting = false
		case <-tick.C:
		case <-deadline:
			cancel()
			t.Fatalf("no OPC UA net.flow record for %s on a port outside Ports.OPCUA; stats %+v", want, col.Stats())
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v after cancel, want nil", err)
	}
	if st := col.Stats(); st.OPCUARecognized == 0 {
		t.Errorf("OPCUARecognized = 0, want the Hello's connection counted")
	}
}

// serveModbus answers each 12-byte request (an FC 1-6 ADU) on every
// connection ln accepts with answer(request), until ln is closed.
func serveModbus(ln net.Listener, answer func(req []byte) []byte) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			buf := make([]byte, 12)
			for {
				if _, err := io.ReadFull(c, buf); err != nil {
					return
				}
				if _, err := c.Write(answer(buf)); err != nil {
					return
				}
			}
		}()
	}
}
