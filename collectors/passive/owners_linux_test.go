package passive

import (
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// TestDiagOwners asks the kernel (sock_diag) and /proc for the owners of
// real loopback sockets of this process: both ends of an accepted
// connection, a server end not accepted yet (its listener's owner), and
// closed or unknown sockets (not found).
func TestDiagOwners(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	server := netip.MustParseAddrPort(ln.Addr().String())
	dial := func() (net.Conn, netip.AddrPort) {
		c, err := net.Dial("tcp", server.String())
		if err != nil {
			t.Fatal(err)
		}
		return c, netip.MustParseAddrPort(c.LocalAddr().String())
	}
	accepted, acceptedAddr := dial()
	defer accepted.Close()
	sc, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	closed, closedAddr := dial()
	closed.Close()

	qs := []ownerQuery{
		{k: sockKey{local: acceptedAddr, remote: server}, client: true},
		{k: sockKey{local: server, remote: acceptedAddr}},
		{k: sockKey{local: closedAddr, remote: server}, client: true},
		{k: sockKey{local: netip.MustParseAddrPort("127.0.0.1:1"), remote: server}, client: true},
	}
	o := newSocketOwners().(*diagOwners)
	if err := o.lookup(t.Context(), qs); err != nil {
		t.Fatal(err)
	}
	want := []bool{true, true, false, false}
	for i, q := range qs {
		if q.found != want[i] || (q.found && q.proc.PID != int32(os.Getpid())) {
			t.Errorf("query %d %v client=%v: found %v pid %d; want found %v, pid %d", i, q.k, q.client, q.found, q.proc.PID, want[i], os.Getpid())
		}
	}

	// A connection still in the accept queue has no inode; its listener
	// stands in for the server end.
	queued, queuedAddr := dial()
	defer queued.Close()
	q := []ownerQuery{{k: sockKey{local: server, remote: queuedAddr}}}
	if err := o.lookup(t.Context(), q); err != nil {
		t.Fatal(err)
	}
	if !q[0].found || q[0].proc.PID != int32(os.Getpid()) {
		t.Errorf("server end in the accept queue: found %v pid %d, want this process (the listener's owner)", q[0].found, q[0].proc.PID)
	}
}

// TestProcIndex searches a fixture /proc: the processes of the socket's uid
// newest first, known sockets remembered, the last owner tried first, and
// the search stopped when the socket closes.
func TestProcIndex(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	proc := func(pid int, inodes ...int) {
		dir := filepath.Join(root, strconv.Itoa(pid), "fd")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		os.Symlink("/dev/null", filepath.Join(dir, "0"))
		os.Symlink("pipe:[99]", filepath.Join(dir, "1"))
		for i, ino := range inodes {
			if err := os.Symlink("socket:["+strconv.Itoa(ino)+"]", filepath.Join(dir, strconv.Itoa(3+i))); err != nil {
				t.Fatal(err)
			}
		}
	}
	proc(10, 1000)
	proc(20, 2000, 2001)
	proc(300, 3000)
	os.MkdirAll(filepath.Join(root, "self"), 0o755) // not a pid
	uid := uint32(os.Getuid())
	x := newProcIndex(root)
	open := func() bool { return true }

	if pid, ok := x.pidOf(2001, uid, open); !ok || pid != 20 {
		t.Fatalf("pidOf(2001) = %d, %v; want 20", pid, ok)
	}
	// 300 was read first (newest), 20 next: their sockets are known.
	for ino, want := range map[uint64]int32{3000: 300, 2000: 20, 2001: 20} {
		if x.known[ino] != want {
			t.Errorf("known[%d] = %d, want %d", ino, x.known[ino], want)
		}
	}
	if _, ok := x.known[1000]; ok {
		t.Error("the search went on after the match")
	}
	if pid, ok := x.pidOf(1000, uid, open); !ok || pid != 10 || x.hot[0] != 10 || x.hot[1] != 20 {
		t.Errorf("pidOf(1000) = %d, %v, hot %v; want 10, hot [10 20]", pid, ok, x.hot)
	}
	// A stale known entry is checked, not trusted.
	x.known[4000] = 10
	if pid, ok := x.pidOf(4000, uid, func() bool { return false }); ok {
		t.Errorf("pidOf(4000) = %d: a closed socket found", pid)
	}
	calls := 0
	x.pidOf(5000, uid, func() bool { calls++; return true })
	if calls != 1 {
		t.Errorf("open checked %d times for 3 processes, want 1 (every %d)", calls, aliveEvery)
	}
}

func TestSocketInode(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]uint64{"socket:[42]": 42, "socket:[]": 0, "pipe:[42]": 0, "socket:[42": 0, "/dev/null": 0} {
		got, ok := socketInode([]byte(in))
		if got != want || ok != (want != 0) {
			t.Errorf("socketInode(%q) = %d, %v; want %d", in, got, ok, want)
		}
	}
}
