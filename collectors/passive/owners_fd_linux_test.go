package passive

import (
	"net"
	"net/netip"
	"os"
	"runtime/debug"
	"testing"
)

// TestOwnersHoldNoDescriptors attributes a real loopback connection to this
// process many times, describing the process afresh each time (an empty
// cache), with the garbage collector off so that no cleanup closes a leaked
// descriptor behind the test's back: the open descriptors must not grow
// (gopsutil's NewProcess left one pidfd per described process).
func TestOwnersHoldNoDescriptors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sc, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	q := ownerQuery{k: sockKey{local: netip.MustParseAddrPort(c.LocalAddr().String()), remote: netip.MustParseAddrPort(ln.Addr().String())}, client: true}

	o := newSocketOwners().(*diagOwners)
	defer o.close()
	lookup := func() {
		o.desc = procCache{}
		qs := []ownerQuery{q}
		if err := o.lookup(t.Context(), qs); err != nil {
			t.Fatal(err)
		}
		if !qs[0].found || qs[0].proc.PID != int32(os.Getpid()) || qs[0].proc.Name == "" {
			t.Fatalf("connection not attributed to this process: %+v", qs[0])
		}
	}
	lookup() // opens the netlink socket
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	fds := countFDs(t)
	const n = 200
	for range n {
		lookup()
	}
	if got := countFDs(t); got > fds {
		t.Errorf("%d attributions left %d more open descriptors (%d -> %d)", n, got-fds, fds, got)
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
