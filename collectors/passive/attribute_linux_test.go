package passive_test

import (
	"context"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	mbclient "github.com/goburrow/modbus"

	"github.com/edgeward/edgeward/collectors"
	"github.com/edgeward/edgeward/collectors/passive"
)

// TestCollectorLiveAttribution runs the collector on the loopback interface
// while a Modbus client (goburrow) in this test process writes to a Modbus
// server (simonvetter) in this test process, and checks that the net.flow
// record and the modbus.write_new_master event name this process as the
// owner of the client's socket, read from the real socket table.
func TestCollectorLiveAttribution(t *testing.T) {
	t.Parallel()
	requireLiveCapture(t)
	port := startModbusServer(t)
	server := net.JoinHostPort("127.0.0.1", strconv.Itoa(int(port)))

	cfg := passive.DefaultConfig()
	cfg.Interfaces = []string{"lo"}
	cfg.Ports.Modbus = []uint16{port}
	cfg.SummaryInterval = time.Second
	col, err := passive.New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		flow  *passive.LocalProcess
		event *passive.LocalProcess
	)
	emit := collectors.RecordFunc(func(_ context.Context, r collectors.Record) error {
		mu.Lock()
		defer mu.Unlock()
		switch b := r.Body.(type) {
		case passive.Flow:
			if b.Server == server && b.LocalProcess != nil {
				flow = b.LocalProcess
			}
		case passive.Event:
			if b.Kind == "modbus.write_new_master" && b.Server == server {
				if b.LocalProcess == nil {
					t.Errorf("modbus.write_new_master without local_process: %+v", b)
				}
				event = b.LocalProcess
			}
		}
		return nil
	})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- col.Run(ctx, emit) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run = %v after cancel, want nil", err)
		}
	}()

	h := mbclient.NewTCPClientHandler(server)
	h.Timeout = 10 * time.Second
	h.SlaveId = 1
	if err := h.Connect(); err != nil {
		t.Fatalf("connect modbus client: %v", err)
	}
	defer h.Close()
	client := mbclient.NewClient(h)
	// Poll over one connection until its flow record arrives, attributed
	// (so the capture is running), then write and wait for the event. The
	// deadline only guards against a hang.
	deadline := time.Now().Add(20 * time.Second)
	wait := func(what string, done func() bool, do func() error) {
		t.Helper()
		for {
			mu.Lock()
			ok := done()
			mu.Unlock()
			if ok {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("no attributed %s for %s; stats %+v", what, server, col.Stats())
			}
			if err := do(); err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	wait("net.flow", func() bool { return flow != nil }, func() error {
		_, err := client.ReadHoldingRegisters(0, 2)
		return err
	})
	wrote := false
	wait("modbus.write_new_master", func() bool { return event != nil }, func() error {
		if wrote {
			return nil
		}
		wrote = true
		_, err := client.WriteSingleRegister(5, 1234)
		return err
	})

	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	me, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	for what, p := range map[string]*passive.LocalProcess{"net.flow": flow, "modbus.write_new_master": event} {
		if p.PID != int32(os.Getpid()) || p.Name != filepath.Base(os.Args[0]) || p.Exe != exe || p.User != me.Username {
			t.Errorf("%s local_process = %+v, want pid %d, name %q, exe %q, user %q",
				what, p, os.Getpid(), filepath.Base(os.Args[0]), exe, me.Username)
		}
		if !strings.HasPrefix(p.Cmdline, os.Args[0]) || len(p.Cmdline) > passive.MaxCmdline {
			t.Errorf("%s cmdline = %q, want this test's command line (at most %d bytes)", what, p.Cmdline, passive.MaxCmdline)
		}
	}
}
