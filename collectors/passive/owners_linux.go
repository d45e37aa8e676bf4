//go:build linux

package passive

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// Linux socket owner lookup: one NETLINK_SOCK_DIAG request per connection
// asks the kernel for the socket of an exact 4-tuple (inet_diag_req_v2 with
// the full sockid and no cookie: the kernel's inet_diag_find_one_icsk), which
// yields the socket's inode and uid; the inode is then mapped to a process by
// reading /proc/<pid>/fd (see procIndex). A socket that is not established
// yet on the server side (a request socket, or one still in the accept
// queue) has no inode: the listening socket of the same local address and
// port stands in for it.

// Sizes of the inet_diag structures (linux/inet_diag.h).
const (
	nlmsgHdrLen      = 16
	inetDiagReqLen   = 56 // family, protocol, ext, pad, states, sockid
	inetDiagMsgLen   = 72 // family, state, timer, retrans, sockid, expires, rqueue, wqueue, uid, inode
	inetDiagNoCookie = 0xFFFFFFFF
	tcpListen        = 10 // TCP_LISTEN in the kernel's TCP state numbering
)

// diagOwners is the Linux socketOwners: sock_diag by exact 4-tuple, then
// /proc for the process.
type diagOwners struct {
	fd    int // NETLINK_SOCK_DIAG socket, -1 until first use
	seq   uint32
	buf   []byte
	procs *procIndex
	desc  procCache
}

var _ socketOwners = (*diagOwners)(nil)

// newSocketOwners returns the Linux socket owner lookup.
func newSocketOwners() socketOwners {
	return &diagOwners{fd: -1, buf: make([]byte, 8192), procs: newProcIndex("/proc")}
}

func (o *diagOwners) localAddrs() ([]netip.Addr, error) { return interfaceAddrs() }

// lookup finds the owner of each query's socket. A socket the kernel does
// not know (already closed) or whose process the agent may not inspect
// stays not found; only a failure of the netlink socket itself is an error.
func (o *diagOwners) lookup(ctx context.Context, qs []ownerQuery) error {
	if o.fd < 0 {
		fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.NETLINK_SOCK_DIAG)
		if err != nil {
			return fmt.Errorf("open NETLINK_SOCK_DIAG socket: %w", err)
		}
		// A reply that never comes (it always does) must not hang the worker.
		tv := unix.Timeval{Sec: 1}
		if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
			unix.Close(fd)
			return fmt.Errorf("set NETLINK_SOCK_DIAG receive timeout: %w", err)
		}
		if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
			unix.Close(fd)
			return fmt.Errorf("bind NETLINK_SOCK_DIAG socket: %w", err)
		}
		o.fd = fd
	}
	for i := range qs {
		q := &qs[i]
		local, remote := q.k.local, q.k.remote
		inode, uid, err := o.socket(local, remote)
		if err != nil {
			o.close()
			return err
		}
		if inode == 0 && !q.client {
			// Not accepted yet: its listener's owner will accept it.
			remote = netip.AddrPortFrom(zeroLike(remote.Addr()), 0)
			if inode, uid, err = o.socket(local, remote); err != nil {
				o.close()
				return err
			}
		}
		if inode == 0 {
			continue
		}
		// A socket closed while its owner is searched for cannot be found
		// any more: the search stops rather than read every process.
		open := func() bool {
			ino, _, err := o.socket(local, remote)
			return err == nil && ino == inode
		}
		pid, ok := o.procs.pidOf(inode, uid, open)
		if !ok {
			continue
		}
		if p, ok := o.desc.describe(ctx, pid); ok {
			q.proc, q.found = p, true
		}
	}
	return nil
}

func (o *diagOwners) close() {
	if o.fd >= 0 {
		unix.Close(o.fd)
		o.fd = -1
	}
}

// socket asks the kernel for the TCP socket from local to remote and returns
// its inode and owner uid; inode 0 when there is none (ENOENT) or it has
// no file (TIME_WAIT, a request socket, one not accepted yet).
func (o *diagOwners) socket(local, remote netip.AddrPort) (inode uint64, uid uint32, err error) {
	o.seq++
	req := marshalDiagReq(o.seq, local, remote)
	if err := unix.Sendto(o.fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return 0, 0, fmt.Errorf("send sock_diag request: %w", err)
	}
	for {
		n, _, err := unix.Recvfrom(o.fd, o.buf, 0)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return 0, 0, fmt.Errorf("read sock_diag reply: %w", err)
		}
		ino, id, done, err := parseDiagReply(o.buf[:n], o.seq)
		if done || err != nil {
			return ino, id, err
		}
	}
}

// marshalDiagReq encodes a SOCK_DIAG_BY_FAMILY request for the one TCP
// socket from local to remote (both of one family; IPv4-mapped addresses
// are sent as IPv4).
func marshalDiagReq(seq uint32, local, remote netip.AddrPort) []byte {
	b := make([]byte, nlmsgHdrLen+inetDiagReqLen)
	ne := binary.NativeEndian
	ne.PutUint32(b[0:], uint32(len(b)))
	ne.PutUint16(b[4:], unix.SOCK_DIAG_BY_FAMILY)
	ne.PutUint16(b[6:], unix.NLM_F_REQUEST)
	ne.PutUint32(b[8:], seq)
	r := b[nlmsgHdrLen:]
	la, ra := local.Addr().Unmap(), remote.Addr().Unmap()
	r[0] = unix.AF_INET6
	if la.Is4() {
		r[0] = unix.AF_INET
	}
	r[1] = unix.IPPROTO_TCP
	ne.PutUint32(r[4:], 0xFFFFFFFF) // every state
	id := r[8:]
	binary.BigEndian.PutUint16(id[0:], local.Port())
	binary.BigEndian.PutUint16(id[2:], remote.Port())
	putDiagAddr(id[4:20], la)
	putDiagAddr(id[20:36], ra)
	ne.PutUint32(id[40:], inetDiagNoCookie)
	ne.PutUint32(id[44:], inetDiagNoCookie)
	return b
}

func putDiagAddr(b []byte, a netip.Addr) {
	if a.Is4() {
		v := a.As4()
		copy(b, v[:])
		return
	}
	v := a.As16()
	copy(b, v[:])
}

// parseDiagReply reads the messages of one netlink datagram answering
// request seq. done is false when the datagram held none of them.
func parseDiagReply(b []byte, seq uint32) (inode uint64, uid uint32, done bool, err error) {
	ne := binary.NativeEndian
	for len(b) >= nlmsgHdrLen {
		l := int(ne.Uint32(b[0:]))
		if l < nlmsgHdrLen || l > len(b) {
			return 0, 0, true, fmt.Errorf("sock_diag reply: message length %d of %d bytes", l, len(b))
		}
		typ, mseq, body := ne.Uint16(b[4:]), ne.Uint32(b[8:]), b[nlmsgHdrLen:l]
		b = b[min((l+3)&^3, len(b)):]
		if mseq != seq {
			continue // a late answer to an earlier request
		}
		switch typ {
		case unix.NLMSG_ERROR:
			if len(body) < 4 {
				return 0, 0, true, errors.New("sock_diag reply: short error message")
			}
			switch errno := syscall.Errno(-int32(ne.Uint32(body))); errno {
			case 0, unix.ENOENT:
				return 0, 0, true, nil
			default:
				return 0, 0, true, fmt.Errorf("sock_diag: %w", errno)
			}
		case unix.SOCK_DIAG_BY_FAMILY:
			if len(body) < inetDiagMsgLen {
				return 0, 0, true, fmt.Errorf("sock_diag reply: %d-byte message", len(body))
			}
			return uint64(ne.Uint32(body[68:])), ne.Uint32(body[64:]), true, nil
		case unix.NLMSG_DONE:
			return 0, 0, true, nil
		}
	}
	return 0, 0, false, nil
}

// procIndex maps socket inodes to the pids holding them, from
// /proc/<pid>/fd. A new socket is never in a cache, so each lookup scans:
// first the processes that owned the last sockets found (an engineering
// tool opens many connections), then those running as the socket's uid,
// then the rest, newest pid first within each (a short connection is
// often a freshly started script's), and stops at the first match. Every socket seen on the
// way is remembered (at most maxKnownInodes entries, about 1 MiB, cleared
// when full) for connections picked up mid-stream.
type procIndex struct {
	root  string
	known map[uint64]int32
	hot   []int32 // owners of recent lookups, most recent first, at most maxHotPIDs
	fdBuf []byte
}

const (
	maxKnownInodes = 1 << 15
	maxHotPIDs     = 16
)

func newProcIndex(root string) *procIndex {
	return &procIndex{root: root, known: map[uint64]int32{}, fdBuf: make([]byte, 64)}
}

// aliveEvery is how many processes a search reads between two checks that
// the socket is still open.
const aliveEvery = 16

// pidOf returns the pid of a process holding socket inode, whose owner
// is uid. open reports whether the socket is still open; the search of
// every process stops when it no longer is.
func (x *procIndex) pidOf(inode uint64, uid uint32, open func() bool) (int32, bool) {
	if pid, ok := x.known[inode]; ok && x.scan(pid, inode) { // it may be stale
		x.promote(pid)
		return pid, true
	}
	delete(x.known, inode)
	for _, pid := range x.hot {
		if x.scan(pid, inode) {
			x.promote(pid)
			return pid, true
		}
	}
	pids, err := x.pids()
	if err != nil {
		return 0, false
	}
	// The processes of the socket's uid first, then the rest.
	searched := 0
	search := func(pid int32) (found, stop bool) {
		if searched%aliveEvery == 0 && !open() {
			return false, true
		}
		searched++
		if !x.scan(pid, inode) {
			return false, false
		}
		x.promote(pid)
		return true, true
	}
	var other []int32
	for _, pid := range pids {
		if !x.ownedBy(pid, uid) {
			other = append(other, pid)
		} else if found, stop := search(pid); stop {
			return pid, found
		}
	}
	for _, pid := range other {
		if found, stop := search(pid); stop {
			return pid, found
		}
	}
	return 0, false
}

func (x *procIndex) promote(pid int32) {
	i := 0
	for i < len(x.hot) && x.hot[i] != pid {
		i++
	}
	if i == len(x.hot) {
		if len(x.hot) < maxHotPIDs {
			x.hot = append(x.hot, 0)
		} else {
			i--
		}
	}
	copy(x.hot[1:i+1], x.hot[:i])
	x.hot[0] = pid
}

// pids lists the numeric entries of /proc, highest first.
func (x *procIndex) pids() ([]int32, error) {
	d, err := os.Open(x.root)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return nil, err
	}
	out := make([]int32, 0, len(names))
	for _, n := range names {
		if pid, err := strconv.ParseInt(n, 10, 32); err == nil && pid > 0 {
			out = append(out, int32(pid))
		}
	}
	slices.Sort(out)
	slices.Reverse(out)
	return out, nil
}

func (x *procIndex) ownedBy(pid int32, uid uint32) bool {
	var st unix.Stat_t
	if unix.Stat(x.root+"/"+strconv.Itoa(int(pid)), &st) != nil {
		return false
	}
	return st.Uid == uid
}

// scan reads pid's open files, remembering every socket, and reports
// whether inode is among them. An unreadable directory (another user's
// process while unprivileged, a process that exited) holds nothing.
func (x *procIndex) scan(pid int32, inode uint64) bool {
	dir := x.root + "/" + strconv.Itoa(int(pid)) + "/fd"
	d, err := os.Open(dir)
	if err != nil {
		return false
	}
	defer d.Close()
	found := false
	for {
		names, err := d.Readdirnames(256)
		for _, n := range names {
			k, err := unix.Readlink(dir+"/"+n, x.fdBuf)
			if err != nil {
				continue
			}
			ino, ok := socketInode(x.fdBuf[:k])
			if !ok {
				continue
			}
			if len(x.known) >= maxKnownInodes {
				clear(x.known)
			}
			x.known[ino] = pid
			if ino == inode {
				found = true
			}
		}
		if found || err != nil || len(names) == 0 {
			return found
		}
	}
}

// processStart returns the start time of process pid in clock ticks since
// boot (field 22 of /proc/<pid>/stat): with the pid, it names one process.
func processStart(_ context.Context, pid int32) (uint64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(int(pid)) + "/stat")
	if err != nil {
		return 0, err
	}
	// The command name (field 2) is in parentheses and may hold anything.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(string(b[i+1:])) // fields 3 onwards
	if len(f) < 20 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f)+2)
	}
	return strconv.ParseUint(f[19], 10, 64)
}

// socketInode parses a /proc/<pid>/fd link target "socket:[12345]".
func socketInode(b []byte) (uint64, bool) {
	s, ok := strings.CutPrefix(string(b), "socket:[")
	if !ok {
		return 0, false
	}
	s, ok = strings.CutSuffix(s, "]")
	if !ok {
		return 0, false
	}
	v, err := strconv.ParseUint(s, 10, 64)
	return v, err == nil
}
