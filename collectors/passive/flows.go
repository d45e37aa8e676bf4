package passive

import (
	"net/netip"
	"time"

	"github.com/edgeward/edgeward/collectors/passive/internal/bounded"
)

// flowKey identifies a TCP connection whichever way a segment travels: the
// endpoint that sorts first is a.
type flowKey struct {
	a, b   [16]byte
	pa, pb uint16
}

// makeKey returns the key of s's connection and whether s's source is a.
func makeKey(s *segment) (flowKey, bool) {
	srcFirst := false
	for i := range 16 {
		if s.src[i] != s.dst[i] {
			srcFirst = s.src[i] < s.dst[i]
			goto done
		}
	}
	srcFirst = s.sport <= s.dport
done:
	if srcFirst {
		return flowKey{a: s.src, b: s.dst, pa: s.sport, pb: s.dport}, true
	}
	return flowKey{a: s.dst, b: s.src, pa: s.dport, pb: s.sport}, false
}

// protocol is the application protocol a connection is dispatched to.
type protocol uint8

const (
	protoModbus protocol = iota + 1
	protoOPCUA
)

// conn is one tracked TCP connection. half[0] is client to server.
type conn struct {
	key            flowKey
	clientIsA      bool
	client, server netip.AddrPort
	proto          protocol
	h              streamHandler
	half           [2]halfStream
	first, last    time.Time
	closed         bool // ended by FIN/RST; kept so late segments do not start a new flow
	finSeen        [2]bool
	prev, next     *conn // LRU list, most recent at head
	ms             memSizer
	size           int64 // bytes counted in core.connBytes
	// macs are the MAC table entries of the source of each direction, so
	// that a packet touches its entry without a map lookup.
	macs [2]*bounded.Node[netip.Addr, [6]byte]
}

// lru is an intrusive doubly linked list of connections, most recently
// used first.
type lru struct {
	head, tail *conn
}

func (l *lru) pushFront(c *conn) {
	c.prev, c.next = nil, l.head
	if l.head != nil {
		l.head.prev = c
	}
	l.head = c
	if l.tail == nil {
		l.tail = c
	}
}

func (l *lru) remove(c *conn) {
	if c.prev != nil {
		c.prev.next = c.next
	} else {
		l.head = c.next
	}
	if c.next != nil {
		c.next.prev = c.prev
	} else {
		l.tail = c.prev
	}
	c.prev, c.next = nil, nil
}

func (l *lru) touch(c *conn) {
	if l.head == c {
		return
	}
	l.remove(c)
	l.pushFront(c)
}

// addrFrom converts a 16-byte address back to netip (unmapping IPv4).
func addrFrom(b [16]byte, is4 bool) netip.Addr {
	a := netip.AddrFrom16(b)
	if is4 {
		return a.Unmap()
	}
	return a
}
