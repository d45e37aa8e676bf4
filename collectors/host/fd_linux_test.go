package host_test

import (
	"context"
	"net"
	"os"
	"runtime"
	"runtime/debug"
	"testing"

	"github.com/edgeward/edgeward/collectors/host"
)

// TestCollectHoldsNoDescriptors takes many live inventories, the listening
// socket of this process among them (so its owner is named), with the
// garbage collector off so that no cleanup closes a leaked descriptor behind
// the test's back: the open descriptors and goroutines must not grow.
func TestCollectHoldsNoDescriptors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	c := newCollector(t, host.Config{})
	collect := func() {
		inv, err := c.Collect(context.Background())
		if err != nil {
			t.Fatalf("Collect: %v", err)
		}
		for _, s := range inv.Listening {
			if s.Port == port && s.PID == os.Getpid() && s.Process != "" {
				return
			}
		}
		t.Fatalf("this process's listening port %d is not in the inventory with its name: %+v", port, inv.Listening)
	}
	collect() // warm up what gopsutil opens once
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	fds, gs := countFDs(t), runtime.NumGoroutine()
	const n = 30
	for range n {
		collect()
	}
	if got := countFDs(t); got > fds {
		t.Errorf("%d inventories left %d more open descriptors (%d -> %d)", n, got-fds, fds, got)
	}
	if got := runtime.NumGoroutine(); got > gs {
		t.Errorf("%d inventories left %d more goroutines", n, got-gs)
	}
}

// countFDs counts this process's open descriptors.
func countFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatalf("list /proc/self/fd: %v", err)
	}
	return len(ents)
}
